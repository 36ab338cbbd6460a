using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>Verify is the property tests' oracle, so it must notice a damaged structure.</summary>
public sealed class BuddyAllocatorVerifyTests : IDisposable
{
    private readonly BuddyAllocator _allocator = new(new kvm_pfn_t(0x203), 5000, maxOrder: 6);

    public BuddyAllocatorVerifyTests()
    {
        for (int i = 0; i < 40; i++)
        {
            Assert.True(_allocator.TryAllocate(i % 4, out var pfn));
            if (i % 3 == 0)
            {
                _allocator.Free(pfn, i % 4);
            }
        }

        _allocator.Verify();
    }

    public void Dispose() => _allocator.Dispose();

    [Fact]
    public void A_stray_free_bit_inside_an_allocated_block_is_reported()
    {
        Assert.True(_allocator.TryAllocate(3, out var pfn));
        _allocator.FlipFreeBitForTesting(0, pfn + 1);
        var error = Assert.Throws<InvalidOperationException>(_allocator.Verify);
        Assert.Contains("order 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_free_block_with_a_free_buddy_is_reported()
    {
        Assert.True(_allocator.TryAllocate(2, out var pfn));
        Assert.True(_allocator.TryAllocate(2, out var buddy));
        Assert.Equal(pfn.Value ^ 4, buddy.Value);
        _allocator.Free(pfn, 2);
        _allocator.FlipFreeBitForTesting(2, buddy); // buddy marked free without the merge
        var error = Assert.Throws<InvalidOperationException>(_allocator.Verify);
        Assert.Contains("free buddy", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 3)]      // a summary bit over 64 zero words at the end of the range (the vectorized skip)
    [InlineData(1, 0)]      // one over words that hold free blocks, cleared
    [InlineData(2, 0)]      // one level higher
    public void A_wrong_summary_bit_is_reported(int level, ulong bit)
    {
        // 2^20 pages: 16384 order-0 words, two summary levels above them; only the first few MiB are in use.
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0), 1UL << 20, maxOrder: 10);
        for (int i = 0; i < 3000; i++)
        {
            Assert.True(allocator.TryAllocate(i % 3, out var pfn));
            if (i % 2 == 0)
            {
                allocator.Free(pfn, i % 3);
            }
        }

        allocator.Verify();
        allocator.FlipSummaryBitForTesting(0, level, bit);
        var error = Assert.Throws<InvalidOperationException>(allocator.Verify);
        Assert.Contains($"order 0: summary level {level} bit {bit} is", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lost_split_bit_is_reported()
    {
        Assert.True(_allocator.TryAllocate(0, out var pfn));
        _allocator.FlipSplitBitForTesting(1, pfn);
        Assert.Throws<InvalidOperationException>(_allocator.Verify);
    }

    [Fact]
    public void A_disposed_allocator_refuses_every_operation()
    {
        var allocator = new BuddyAllocator(new kvm_pfn_t(0), 64);
        Assert.True(allocator.TryAllocate(0, out var pfn));
        allocator.Dispose();
        allocator.Dispose();
        Assert.Throws<ObjectDisposedException>(() => allocator.TryAllocate(0, out _));
        Assert.Throws<ObjectDisposedException>(() => allocator.Free(pfn, 0));
        Assert.Throws<ObjectDisposedException>(() => allocator.Claim(new kvm_pfn_t(8), 3));
        Assert.Throws<ObjectDisposedException>(() => allocator.IsRangeFree(new kvm_pfn_t(8), 3));
        Assert.Throws<ObjectDisposedException>(allocator.Verify);
    }
}
