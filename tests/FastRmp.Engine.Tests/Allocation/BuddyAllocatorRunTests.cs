using FastRmp.Engine.Allocation;
using FastRmp.Engine.Tests.Gmem;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>
/// <see cref="BuddyAllocator.TryAllocateRun"/> against its definition: the same pages, in the same order, and the same
/// state (every bitmap word, hints, counters) as that many <see cref="BuddyAllocator.TryAllocate"/>(0) calls.
/// </summary>
public sealed class BuddyAllocatorRunTests
{
    private struct AcceptAll : IPfnRunFilter
    {
        public int Asked;

        public bool Accept(kvm_pfn_t first, ulong count)
        {
            Asked++;
            return true;
        }
    }

    private readonly struct Refuse(ulong pfn) : IPfnRunFilter
    {
        public bool Accept(kvm_pfn_t first, ulong count) => pfn - first.Value >= count;
    }

    public static TheoryData<ulong, ulong, int, int> Hosts => new()
    {
        // base pfn, pages, max order, seed
        { 0, 1UL << 16, 10, 1 },
        { 0, 1UL << 16, 18, 2 },
        { 0x12345, 100_003, 10, 3 },
        { 7, 5000, 4, 4 },
        { 3, 37, 3, 5 },
        { 1UL << 20, (3UL << 18) + 777, 18, 6 },
    };

    [Theory]
    [MemberData(nameof(Hosts))]
    public void A_run_is_the_same_as_single_page_allocations_in_a_row(ulong basePfn, ulong pages, int maxOrder, int seed)
    {
        var random = new Random(seed);
        using var run = new BuddyAllocator(new kvm_pfn_t(basePfn), pages, maxOrder);
        using var single = new BuddyAllocator(new kvm_pfn_t(basePfn), pages, maxOrder);
        var live = new List<(ulong Pfn, int Order)>();
        var ranges = new PfnRange[600];
        long wholeBlocks = 0;
        for (int step = 0; step < 3000; step++)
        {
            int kind = random.Next(10);
            if (kind < 3 && live.Count > 0)
            {
                int at = random.Next(live.Count);
                run.Free(new kvm_pfn_t(live[at].Pfn), live[at].Order);
                single.Free(new kvm_pfn_t(live[at].Pfn), live[at].Order);
                live[at] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else if (kind < 6)
            {
                int order = random.Next(Math.Min(maxOrder, 9) + 1);
                bool a = run.TryAllocate(order, out var p);
                Assert.Equal(a, single.TryAllocate(order, out var q));
                Assert.Equal(p, q);
                if (a)
                {
                    live.Add((p.Value, order));
                }
            }
            else
            {
                int length = random.Next(2) == 0 ? 512 : random.Next(1, ranges.Length);
                var filter = new AcceptAll();
                int got = (int)run.TryAllocateRun((ulong)length, ranges, out int rangeCount, ref filter);
                var fromRun = Pages(ranges.AsSpan(0, rangeCount));
                Assert.Equal(got, fromRun.Count);
                wholeBlocks += got - filter.Asked;
                for (int i = 0; i < length; i++)
                {
                    if (!single.TryAllocate(0, out var q))
                    {
                        Assert.Equal(i, got); // the run stops exactly where memory runs out
                        break;
                    }

                    Assert.True(i < got, $"step {step}: the run stopped at {got} of {length} with memory left");
                    Assert.Equal(q, fromRun[i]);
                    live.Add((q.Value, 0));
                }
            }

            Assert.True(run.HasSameStateAs(single), $"step {step}: the allocators' states differ");
        }

        Assert.True(wholeBlocks > 0, "no run took a block whole: the test did not reach the batched step");
        run.Verify();
    }

    [Fact]
    public void A_refused_page_ends_the_run_just_before_it()
    {
        using var run = new BuddyAllocator(new kvm_pfn_t(0), 1UL << 16, 10);
        using var single = new BuddyAllocator(new kvm_pfn_t(0), 1UL << 16, 10);
        Assert.True(run.TryAllocate(3, out _) && single.TryAllocate(3, out _));
        var ranges = new PfnRange[512];
        var filter = new Refuse(300);
        int got = (int)run.TryAllocateRun(512, ranges, out int rangeCount, ref filter);
        Assert.Equal(300 - 8, got); // pages 8..299, in order
        var pfns = Pages(ranges.AsSpan(0, rangeCount));
        for (int i = 0; i < got; i++)
        {
            Assert.True(single.TryAllocate(0, out var q));
            Assert.Equal(q, pfns[i]);
        }

        Assert.True(run.HasSameStateAs(single));
    }

    [Fact]
    public void An_allocator_without_runs_allocates_nothing()
    {
        IFolioAllocator allocator = new TestFolioAllocator(1 << 16);
        var filter = new AcceptAll();
        Assert.Equal(0UL, allocator.TryAllocateRun(8, new PfnRange[8], out int rangeCount, ref filter));
        Assert.Equal(0, rangeCount);
    }

    private static List<kvm_pfn_t> Pages(ReadOnlySpan<PfnRange> ranges)
    {
        var pages = new List<kvm_pfn_t>();
        foreach (var range in ranges)
        {
            Assert.True(range.Count > 0);
            for (ulong i = 0; i < range.Count; i++)
            {
                pages.Add(range.First + i);
            }
        }

        return pages;
    }
}
