using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>Seeded random operation mixes, checked step by step against <see cref="NaiveBuddyModel"/>.</summary>
public sealed class BuddyAllocatorPropertyTests
{
    public static TheoryData<ulong, ulong, int, int> Hosts => new()
    {
        // base pfn, pages, max order, seed
        { 0, 1UL << 16, 10, 1 },
        { 0, 1UL << 16, 10, 2 },
        { 0x12345, 100_003, 10, 3 },
        { 0x12345, 100_003, 10, 4 },
        { 7, 5000, 4, 5 },
        { 3, 37, 3, 6 },
        { 1UL << 20, (3UL << 18) + 777, 18, 7 },
        { 0x7ffff, 70_001, 12, 8 },
    };

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Random_allocate_claim_free_agree_with_the_naive_model(ulong basePfn, ulong pages, int maxOrder, int seed)
    {
        const int Operations = 100_000;
        var random = new Random(seed);
        using var allocator = new BuddyAllocator(new kvm_pfn_t(basePfn), pages, maxOrder);
        var model = new NaiveBuddyModel(basePfn, pages, maxOrder);
        var initial = AllocatorSnapshot.Take(allocator).BuddyInfo;
        var live = new List<(ulong Pfn, int Order)>();
        int verifyEvery = (int)Math.Max(100, pages / 64);
        int topOrder = Math.Min(maxOrder, 63 - System.Numerics.BitOperations.LeadingZeroCount(pages));

        for (int step = 0; step < Operations; step++)
        {
            int order = SmallOrder(random, topOrder);
            int kind = random.Next(100);
            if (kind < 40 && live.Count > 0 || kind >= 80 && live.Count > 0 && model.FreePages < pages / 8)
            {
                int at = random.Next(live.Count);
                var (pfn, blockOrder) = live[at];
                live[at] = live[^1];
                live.RemoveAt(live.Count - 1);
                allocator.Free(new kvm_pfn_t(pfn), blockOrder);
                model.Free(pfn, blockOrder);
            }
            else if (kind < 70)
            {
                bool expected = model.CanAllocate(order);
                bool actual = allocator.TryAllocate(order, out var pfn);
                Assert.True(expected == actual, $"step {step}: allocate order {order}: model {expected}, allocator {actual}");
                if (actual)
                {
                    // The pfn must be an entirely free aligned block in the model: no overlap with a live block.
                    Assert.True(model.TryClaim(pfn.Value, order), $"step {step}: allocate order {order} returned 0x{pfn.Value:x}, not free in the model");
                    live.Add((pfn.Value, order));
                }
            }
            else
            {
                ulong size = 1UL << order;
                ulong first = (basePfn + size - 1) & ~(size - 1);
                ulong slots = first + size <= basePfn + pages ? ((basePfn + pages - first) / size) : 0;
                if (slots == 0)
                {
                    continue;
                }

                ulong pfn = first + ((ulong)random.NextInt64((long)slots) * size);
                if (model.TryClaim(pfn, order))
                {
                    allocator.Claim(new kvm_pfn_t(pfn), order);
                    live.Add((pfn, order));
                }
                else if (random.Next(16) == 0)
                {
                    var before = AllocatorSnapshot.Take(allocator);
                    Assert.Throws<InvalidOperationException>(() => allocator.Claim(new kvm_pfn_t(pfn), order));
                    before.AssertSame(allocator, verify: false);
                }
            }

            Assert.Equal(model.FreePages, allocator.FreePages);
            for (int k = 0; k <= maxOrder; k++)
            {
                if (model.FreeBlocks(k) != allocator.FreeBlocks(k))
                {
                    Assert.Fail($"step {step}: order {k} has {allocator.FreeBlocks(k)} free blocks, the model {model.FreeBlocks(k)}");
                }
            }

            if (step % verifyEvery == 0)
            {
                allocator.Verify();
            }
        }

        allocator.Verify();
        Assert.Equal(pages, allocator.FreePages + (ulong)live.Sum(b => 1L << b.Order));

        // Freeing everything, in random order, restores the fully coalesced start.
        while (live.Count > 0)
        {
            int at = random.Next(live.Count);
            allocator.Free(new kvm_pfn_t(live[at].Pfn), live[at].Order);
            live[at] = live[^1];
            live.RemoveAt(live.Count - 1);
        }

        Assert.Equal(pages, allocator.FreePages);
        Assert.Equal(initial, AllocatorSnapshot.Take(allocator).BuddyInfo);
        allocator.Verify();
    }

    // Mostly 4 KiB and 2 MiB, like guest_memfd folios, with every order reachable.
    private static int SmallOrder(Random random, int topOrder)
    {
        int roll = random.Next(16);
        int order = roll < 8 ? 0 : roll < 11 ? 9 : random.Next(topOrder + 1);
        return Math.Min(order, topOrder);
    }
}
