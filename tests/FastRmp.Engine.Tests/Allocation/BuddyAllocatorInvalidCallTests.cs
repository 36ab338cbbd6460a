using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>Every refused call names the pfn and order and leaves the allocator exactly as it was.</summary>
public sealed class BuddyAllocatorInvalidCallTests : IDisposable
{
    // pfns [0x1003, 0x17fb) with max order 4: an unaligned head and an odd tail.
    private const ulong Base = 0x1003;
    private readonly BuddyAllocator _allocator = new(new kvm_pfn_t(Base), 2040, maxOrder: 4);
    private readonly kvm_pfn_t _page;
    private readonly kvm_pfn_t _block3;

    public BuddyAllocatorInvalidCallTests()
    {
        Assert.True(_allocator.TryAllocate(0, out _page));
        Assert.True(_allocator.TryAllocate(3, out _block3));
        _allocator.Claim(new kvm_pfn_t(0x1100), 2);
        _allocator.Claim(new kvm_pfn_t(0x1104), 0);
    }

    public void Dispose() => _allocator.Dispose();

    private T Refused<T>(Action call, ulong pfn, int order)
        where T : Exception
    {
        var before = AllocatorSnapshot.Take(_allocator);
        var error = Assert.Throws<T>(call);
        Assert.Contains($"0x{pfn:x}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"order {order}", error.Message, StringComparison.Ordinal);
        before.AssertSame(_allocator);
        return error;
    }

    [Fact]
    public void Double_free_is_refused()
    {
        _allocator.Free(_page, 0);
        var error = Refused<InvalidOperationException>(() => _allocator.Free(_page, 0), _page.Value, 0);
        Assert.Contains("free", error.Message, StringComparison.Ordinal);

        _allocator.Free(_block3, 3);
        Refused<InvalidOperationException>(() => _allocator.Free(_block3, 3), _block3.Value, 3);
    }

    [Fact]
    public void Freeing_a_block_that_was_never_allocated_is_refused()
    {
        var untouched = new kvm_pfn_t(0x1400);
        var error = Refused<InvalidOperationException>(() => _allocator.Free(untouched, 2), untouched.Value, 2);
        Assert.Contains("lies in the free block of order 4 at 0x1400", error.Message, StringComparison.Ordinal);
        Refused<InvalidOperationException>(() => _allocator.Free(new kvm_pfn_t(0x1401), 0), 0x1401, 0);
    }

    [Fact]
    public void Freeing_with_a_smaller_order_than_allocated_is_refused()
    {
        var error = Refused<InvalidOperationException>(() => _allocator.Free(_block3, 2), _block3.Value, 2);
        Assert.Contains("allocated block of order 3", error.Message, StringComparison.Ordinal);
        Refused<InvalidOperationException>(() => _allocator.Free(_block3, 0), _block3.Value, 0);
        Refused<InvalidOperationException>(() => _allocator.Free(new kvm_pfn_t(0x1102), 1), 0x1102, 1);
    }

    [Fact]
    public void Freeing_with_a_larger_order_than_allocated_is_refused()
    {
        // 0x1100 was claimed at order 2 and 0x1104 at order 0: the order-3 block at 0x1100 is split, not allocated.
        var error = Refused<InvalidOperationException>(() => _allocator.Free(new kvm_pfn_t(0x1100), 3), 0x1100, 3);
        Assert.Contains("split", error.Message, StringComparison.Ordinal);
        Refused<InvalidOperationException>(() => _allocator.Free(new kvm_pfn_t(0x1104), 1), 0x1104, 1);
    }

    [Fact]
    public void Misaligned_pfns_are_refused()
    {
        Refused<ArgumentException>(() => _allocator.Free(new kvm_pfn_t(0x1102), 2), 0x1102, 2);
        Refused<ArgumentException>(() => _allocator.Claim(new kvm_pfn_t(0x1201), 1), 0x1201, 1);
    }

    [Fact]
    public void Pfns_outside_the_range_are_refused()
    {
        Refused<ArgumentOutOfRangeException>(() => _allocator.Free(new kvm_pfn_t(0x1002), 0), 0x1002, 0);
        Refused<ArgumentOutOfRangeException>(() => _allocator.Free(new kvm_pfn_t(Base + 2040), 0), Base + 2040, 0);
        Refused<ArgumentOutOfRangeException>(() => _allocator.Claim(new kvm_pfn_t(0x1000), 2), 0x1000, 2); // straddles the base
        Refused<ArgumentOutOfRangeException>(() => _allocator.Claim(new kvm_pfn_t(0x17f0), 4), 0x17f0, 4); // straddles the end 0x17fb
        Refused<ArgumentOutOfRangeException>(() => _allocator.Claim(new kvm_pfn_t(ulong.MaxValue - 15), 4), ulong.MaxValue - 15, 4);
    }

    [Fact]
    public void Orders_above_max_order_are_refused()
    {
        var before = AllocatorSnapshot.Take(_allocator);
        Assert.Throws<ArgumentOutOfRangeException>(() => _allocator.TryAllocate(5, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => _allocator.TryAllocate(-1, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => _allocator.FreeBlocks(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => _allocator.FragmentationIndex(5));
        before.AssertSame(_allocator);
        Refused<ArgumentOutOfRangeException>(() => _allocator.Free(new kvm_pfn_t(0x1400), 5), 0x1400, 5);
        Refused<ArgumentOutOfRangeException>(() => _allocator.Claim(new kvm_pfn_t(0x1400), 31), 0x1400, 31);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BuddyAllocator(new kvm_pfn_t(0), 1024, maxOrder: 19));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BuddyAllocator(new kvm_pfn_t(0), 0));
    }

    [Fact]
    public void Claiming_a_range_that_is_not_entirely_free_is_refused()
    {
        // Entirely allocated, partly allocated (the order-4 block 0x1100 holds live 0x1100/2 and 0x1104/0), and a
        // free page inside an allocated block.
        var error = Refused<InvalidOperationException>(() => _allocator.Claim(_block3, 3), _block3.Value, 3);
        Assert.Contains("not entirely free", error.Message, StringComparison.Ordinal);
        Refused<InvalidOperationException>(() => _allocator.Claim(new kvm_pfn_t(0x1100), 4), 0x1100, 4);
        Refused<InvalidOperationException>(() => _allocator.Claim(new kvm_pfn_t(_block3.Value + 5), 0), _block3.Value + 5, 0);
    }
}
