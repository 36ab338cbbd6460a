using System.Diagnostics;
using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

public sealed class BuddyAllocatorResourceTests(ITestOutputHelper output)
{
    private const ulong PagesPer4TiB = 1UL << 30;

    [Theory]
    [InlineData(BuddyAllocator.DefaultMaxOrder)]
    [InlineData(BuddyAllocator.LimitMaxOrder)]
    public void A_4_TiB_host_needs_at_most_4_bits_per_page(int maxOrder)
    {
        var watch = Stopwatch.StartNew();
        using var allocator = new BuddyAllocator(new kvm_pfn_t(1UL << 20), PagesPer4TiB, maxOrder);
        watch.Stop();
        long bytes = allocator.MetadataBytes;
        double bitsPerPage = bytes * 8.0 / PagesPer4TiB;
        output.WriteLine($"4 TiB host, max order {maxOrder}: {bytes} metadata bytes ({bitsPerPage:F4} bits per 4 KiB page), built in {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(bytes <= 512L << 20, $"{bytes} bytes > 512 MiB");
        Assert.Equal(bytes, BuddyAllocator.MetadataBytesFor(new kvm_pfn_t(1UL << 20), PagesPer4TiB, maxOrder));

        // The real structures: the whole range is free, and blocks at both ends work.
        Assert.Equal(PagesPer4TiB >> maxOrder, (ulong)allocator.FreeBlocks(maxOrder));
        Assert.True(allocator.TryAllocate(0, out var page));
        var last = new kvm_pfn_t((1UL << 20) + PagesPer4TiB - 512);
        allocator.Claim(last, 9);
        allocator.Free(page, 0);
        allocator.Free(last, 9);
        Assert.Equal(PagesPer4TiB, allocator.FreePages);
    }

    [Fact]
    public void Operations_allocate_no_managed_memory()
    {
        const int Rounds = 2_000;
        const int Batch = 64;
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0x4000), (1UL << 20) + 333);
        var pfns = new kvm_pfn_t[Batch];
        var orders = new int[Batch];
        var random = new Random(11);

        // Warm up every path (and the JIT) first, then count.
        long operations = Run(allocator, pfns, orders, random, 50);

        // The least of three measured rounds (see RmpMemoryTests): an allocating operation shows in every round.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            operations = Run(allocator, pfns, orders, random, Rounds);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        output.WriteLine($"{operations} operations, {allocated} managed bytes allocated");
        Assert.True(operations >= 100_000);
        Assert.Equal(0, allocated);
        allocator.Verify();
    }

    private static long Run(BuddyAllocator allocator, kvm_pfn_t[] pfns, int[] orders, Random random, int rounds)
    {
        long operations = 0;
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < pfns.Length; i++)
            {
                int order = random.Next(4) switch { 0 => 9, 1 => random.Next(11), _ => 0 };
                if (i % 8 == 7)
                {
                    ulong size = 1UL << order;
                    ulong pfn = 0x4000 + ((ulong)random.Next(1 << 20) & ~(size - 1));
                    if (allocator.IsRangeFree(new kvm_pfn_t(pfn), order))
                    {
                        allocator.Claim(new kvm_pfn_t(pfn), order);
                        pfns[i] = new kvm_pfn_t(pfn);
                        orders[i] = order;
                        operations++;
                        continue;
                    }
                }

                Assert.True(allocator.TryAllocate(order, out pfns[i]));
                orders[i] = order;
                operations++;
            }

            for (int i = pfns.Length - 1; i >= 0; i--)
            {
                allocator.Free(pfns[i], orders[i]);
                operations++;
            }
        }

        return operations;
    }
}
