using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

public sealed class BuddyAllocatorTests
{
    private static long[] BuddyInfo(BuddyAllocator allocator)
    {
        var info = new long[allocator.MaxOrder + 1];
        allocator.GetBuddyInfo(info);
        return info;
    }

    [Fact]
    public void A_fresh_aligned_host_is_all_blocks_of_the_largest_order()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), PageSize.PagesPer1G);
        long[] expected = new long[11];
        expected[10] = 256;
        Assert.Equal(expected, BuddyInfo(allocator));
        Assert.Equal((ulong)PageSize.PagesPer1G, allocator.FreePages);
        allocator.Verify();
    }

    [Fact]
    public void An_unaligned_base_and_odd_tail_are_covered_by_smaller_blocks()
    {
        // pfns [3, 40) with 8-page blocks: [3] order 0, [4..8) order 2, then four order-3 blocks.
        using var allocator = new BuddyAllocator(new kvm_pfn_t(3), 37, maxOrder: 3);
        Assert.Equal([1, 0, 1, 4], BuddyInfo(allocator));
        allocator.Verify();

        using var tail = new BuddyAllocator(new kvm_pfn_t(0x100000), 1024 + 512 + 3, maxOrder: 10);
        Assert.Equal([1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1], BuddyInfo(tail));
        tail.Verify();
    }

    [Fact]
    public void Freeing_a_buddy_coalesces_to_the_next_order()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1024);
        Assert.True(allocator.TryAllocate(0, out var first));
        Assert.True(allocator.TryAllocate(0, out var second));
        Assert.Equal(first.Value ^ 1, second.Value);
        Assert.Equal([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], BuddyInfo(allocator));

        allocator.Free(second, 0);
        Assert.Equal(1, allocator.FreeBlocks(0));
        allocator.Free(first, 0);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], BuddyInfo(allocator));
        for (int k = 0; k < 10; k++)
        {
            Assert.Equal(1, allocator.GetCounters(k).Merges);
            Assert.Equal(1, allocator.GetCounters(k + 1).Splits);
        }

        allocator.Verify();
    }

    [Fact]
    public void Buddies_across_the_range_edge_never_merge()
    {
        // [1, 3): pfn 1 and pfn 2 are both free but not buddies; pfn 2's buddy 3 is outside.
        using var allocator = new BuddyAllocator(new kvm_pfn_t(1), 2, maxOrder: 2);
        Assert.Equal([2, 0, 0], BuddyInfo(allocator));
        allocator.Claim(new kvm_pfn_t(2), 0);
        allocator.Free(new kvm_pfn_t(2), 0);
        Assert.Equal([2, 0, 0], BuddyInfo(allocator));
        allocator.Verify();
    }

    [Fact]
    public void Claiming_inside_a_larger_free_block_splits_it()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1024);
        allocator.Claim(new kvm_pfn_t(5), 0);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], BuddyInfo(allocator));
        Assert.Equal(1023UL, allocator.FreePages);
        Assert.Equal(1, allocator.GetCounters(0).Claims);
        allocator.Verify();

        // The free halves are the siblings on the path: order 0 at 4, order 1 at 6, order 2 at 0, order 3 at 8 ...
        allocator.Claim(new kvm_pfn_t(4), 0);
        allocator.Claim(new kvm_pfn_t(6), 1);
        allocator.Claim(new kvm_pfn_t(0), 2);
        allocator.Claim(new kvm_pfn_t(8), 3);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0], BuddyInfo(allocator));
        allocator.Free(new kvm_pfn_t(8), 3);
        allocator.Free(new kvm_pfn_t(0), 2);
        allocator.Free(new kvm_pfn_t(6), 1);
        allocator.Free(new kvm_pfn_t(4), 0);
        allocator.Free(new kvm_pfn_t(5), 0);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], BuddyInfo(allocator));
        allocator.Verify();
    }

    [Fact]
    public void TryClaim_claims_like_Claim_and_refuses_a_partly_allocated_block_without_a_change()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1024);
        Assert.True(allocator.TryClaim(new kvm_pfn_t(5), 0));
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], BuddyInfo(allocator));
        Assert.Equal(1, allocator.GetCounters(0).Claims);

        // pfn 5 is taken: the order-1 block at 4 and the order-3 block at 0 hold it, pfn 5 itself is not free
        Assert.False(allocator.TryClaim(new kvm_pfn_t(5), 0));
        Assert.False(allocator.TryClaim(new kvm_pfn_t(4), 1));
        Assert.False(allocator.TryClaim(new kvm_pfn_t(0), 3));
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], BuddyInfo(allocator));
        Assert.Equal(1023UL, allocator.FreePages);
        Assert.Equal(1, allocator.GetCounters(0).Claims);
        Assert.True(allocator.TryClaim(new kvm_pfn_t(4), 0));
        Assert.Throws<InvalidOperationException>(() => allocator.Claim(new kvm_pfn_t(4), 0));
        Assert.Throws<ArgumentException>(() => allocator.TryClaim(new kvm_pfn_t(6), 2));
        allocator.Verify();
    }

    [Fact]
    public void Allocation_uses_the_smallest_order_that_has_a_free_block()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 16, maxOrder: 4);
        allocator.Claim(new kvm_pfn_t(0), 0); // leaves order 0 at 1, 1 at 2, 2 at 4, 3 at 8
        Assert.True(allocator.TryAllocate(2, out var pfn));
        Assert.Equal(4UL, pfn.Value);
        Assert.Equal(1, allocator.GetCounters(3).Splits); // only the claim split order 3
        Assert.True(allocator.TryAllocate(0, out pfn));
        Assert.Equal(1UL, pfn.Value);
        allocator.Verify();
    }

    [Fact]
    public void The_most_recently_freed_block_is_reused_first()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 64, maxOrder: 6);
        var pfns = new kvm_pfn_t[8];
        for (int i = 0; i < pfns.Length; i++)
        {
            Assert.True(allocator.TryAllocate(0, out pfns[i]));
        }

        allocator.Free(pfns[2], 0);
        allocator.Free(pfns[6], 0);
        Assert.True(allocator.TryAllocate(0, out var again));
        Assert.Equal(pfns[6], again);
    }

    [Fact]
    public void Exhaustion_is_a_false_result_not_an_exception()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(100), 8, maxOrder: 3);
        for (int i = 0; i < 8; i++)
        {
            Assert.True(allocator.TryAllocate(0, out _));
        }

        Assert.False(allocator.TryAllocate(0, out var pfn));
        Assert.Equal(default, pfn);
        Assert.False(allocator.TryAllocate(3, out _));
        Assert.Equal(0UL, allocator.FreePages);
        Assert.Equal(8UL, allocator.AllocatedPages);
        allocator.Verify();
    }

    [Fact]
    public void Fragmentation_can_fail_a_large_allocation_while_pages_are_free()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 8, maxOrder: 3);
        allocator.Claim(new kvm_pfn_t(1), 0);
        allocator.Claim(new kvm_pfn_t(5), 0);
        Assert.Equal(6UL, allocator.FreePages);
        Assert.False(allocator.TryAllocate(2, out _));
        Assert.True(allocator.TryAllocate(1, out _));
    }

    [Fact]
    public void One_gib_blocks_work_with_max_order_18()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(1UL << 18), (3UL << 18) + 5, maxOrder: 18);
        Assert.Equal(3, allocator.FreeBlocks(18));
        Assert.True(allocator.TryAllocate(18, out var pfn));
        Assert.Equal(0UL, pfn.Value & ((1UL << 18) - 1));
        Assert.True(allocator.TryAllocate(9, out var huge));
        allocator.Free(pfn, 18);
        allocator.Free(huge, 9);
        Assert.Equal(3, allocator.FreeBlocks(18));
        allocator.Verify();
    }
}
