using System.Runtime.CompilerServices;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>Returns the block of 2^<paramref name="order"/> pages at <paramref name="pfn"/> and merges it with free buddies.</summary>
    /// <remarks>
    /// Models <c>__free_one_page</c>, mm/page_alloc.c, Linux 6.18: while the buddy (index ^ 1 at the current order)
    /// is a free block of the same order and the order is below the largest, the two merge. The caller must pass
    /// the order the block was allocated or claimed with, as with <c>__free_pages</c>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The order is negative or above <see cref="MaxOrder"/>, or the block lies outside the range.</exception>
    /// <exception cref="ArgumentException"><paramref name="pfn"/> is not aligned to 2^<paramref name="order"/> pages.</exception>
    /// <exception cref="InvalidOperationException">The block is not a live allocated block of that order (double free, never allocated, wrong order). The allocator is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void Free(kvm_pfn_t pfn, int order)
    {
        ulong value = pfn.Value;
        ValidateBlock(nameof(Free), value, order);
        nuint index = Index(value, order);

        // A live allocated block is neither free nor split, and its parent is split (or it has the largest order).
        if (IsFree(order, index)
            || (order != 0 && IsSplit(order, index))
            || (order != _maxOrder && !IsSplit(order + 1, index >> 1)))
        {
            ThrowNotAllocated(value, order);
        }

        State(order).Counters.Frees++;
        _freePages += 1L << order;
        int current = order;
        while (current < _maxOrder && IsFree(current, index ^ 1))
        {
            ClearFree(current, index ^ 1);
            State(current).Counters.Merges++;
            current++;
            index >>= 1;
            ClearSplit(current, index);
        }

        SetFree(current, index);
    }

    // One unsigned compare per condition: order in 0..MaxOrder, block inside [base, end), pfn aligned to the block.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ValidateBlock(string operation, ulong pfn, int order)
    {
        if (IsBadOrder(order))
        {
            ThrowOrderOutOfRange(operation, pfn, order);
        }

        ulong size = 1UL << order;
        ulong pages = _endPfn - _basePfn;
        if (pfn < _basePfn || size > pages || pfn - _basePfn > pages - size)
        {
            ThrowOutsideRange(operation, pfn, order);
        }

        if ((pfn & (size - 1)) != 0)
        {
            ThrowMisaligned(operation, pfn, order);
        }
    }
}
