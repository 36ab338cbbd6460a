using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>
/// Expected values worked by hand from __fragmentation_index, mm/vmstat.c (6.18):
/// index = 1000 - (1000 + free_pages * 1000 / 2^order) / free_blocks_total, integer division; -1000 when a block
/// of the order or larger is free; 0 when nothing is free.
/// </summary>
public sealed class BuddyAllocatorFragmentationTests
{
    private static BuddyAllocator FullyAllocated16()
    {
        var allocator = new BuddyAllocator(new kvm_pfn_t(0), 16, maxOrder: 4);
        for (int i = 0; i < 16; i++)
        {
            Assert.True(allocator.TryAllocate(0, out _));
        }

        return allocator;
    }

    [Fact]
    public void Every_other_free_page_is_fragmentation_for_larger_orders()
    {
        using var allocator = FullyAllocated16();
        for (ulong pfn = 0; pfn < 16; pfn += 2)
        {
            allocator.Free(new kvm_pfn_t(pfn), 0);
        }

        // 8 free order-0 blocks, 8 free pages.
        Assert.Equal(-1000, allocator.FragmentationIndex(0));
        Assert.Equal(375, allocator.FragmentationIndex(1)); // 1000 - (1000 + 4000) / 8
        Assert.Equal(625, allocator.FragmentationIndex(2)); // 1000 - (1000 + 2000) / 8
        Assert.Equal(750, allocator.FragmentationIndex(3)); // 1000 - (1000 + 1000) / 8
        Assert.Equal(813, allocator.FragmentationIndex(4)); // 1000 - 1500 / 8 = 1000 - 187
    }

    [Fact]
    public void Mixed_free_orders_follow_the_kernel_formula()
    {
        using var allocator = FullyAllocated16();
        for (ulong pfn = 0; pfn < 4; pfn++)
        {
            allocator.Free(new kvm_pfn_t(pfn), 0); // merges into one order-2 block at 0
        }

        allocator.Free(new kvm_pfn_t(8), 0);
        allocator.Free(new kvm_pfn_t(10), 0);

        // Free: one order-2 block and two order-0 blocks = 6 pages in 3 blocks.
        Assert.Equal([2L, 0, 1, 0, 0], Info(allocator));
        Assert.Equal(-1000, allocator.FragmentationIndex(2));
        Assert.Equal(417, allocator.FragmentationIndex(3)); // 1000 - (1000 + 750) / 3 = 1000 - 583
        Assert.Equal(542, allocator.FragmentationIndex(4)); // 1000 - (1000 + 375) / 3 = 1000 - 458
    }

    [Fact]
    public void Nothing_free_gives_zero_and_a_fresh_host_gives_minus_1000()
    {
        using var full = FullyAllocated16();
        Assert.Equal(0, full.FragmentationIndex(3));
        using var fresh = new BuddyAllocator(new kvm_pfn_t(0), 16, maxOrder: 4);
        Assert.Equal(-1000, fresh.FragmentationIndex(4));
    }

    private static long[] Info(BuddyAllocator allocator)
    {
        var info = new long[allocator.MaxOrder + 1];
        allocator.GetBuddyInfo(info);
        return info;
    }
}
