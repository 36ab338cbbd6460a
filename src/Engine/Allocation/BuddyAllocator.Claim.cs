using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>
    /// Allocates exactly the block of 2^<paramref name="order"/> pages at <paramref name="pfn"/>, for replaying a
    /// trace that dictates which frames were handed out. The range must be entirely free; if it lies inside a
    /// larger free block, that block is split down to it and the other halves stay free.
    /// </summary>
    /// <remarks>
    /// Because buddies coalesce eagerly, an aligned range is entirely free exactly when one free block of its order
    /// or larger covers it, so the claim looks for a free ancestor (at most <see cref="MaxOrder"/> + 1 bit tests).
    /// The split follows <c>expand</c>, mm/page_alloc.c, Linux 6.18, except that the claimed half may be either one.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The order is negative or above <see cref="MaxOrder"/>, or the block lies outside the range.</exception>
    /// <exception cref="ArgumentException"><paramref name="pfn"/> is not aligned to 2^<paramref name="order"/> pages.</exception>
    /// <exception cref="InvalidOperationException">Part of the range is allocated. The allocator is unchanged.</exception>
    public void Claim(kvm_pfn_t pfn, int order)
    {
        ulong value = pfn.Value;
        ValidateBlock(nameof(Claim), value, order);
        int found = order;
        while (!IsFree(found, Index(value, found)))
        {
            if (found == _maxOrder)
            {
                ThrowNotFree(value, order);
            }

            found++;
        }

        nuint index = Index(value, found);
        ClearFree(found, index);
        while (found > order)
        {
            State(found).Counters.Splits++;
            SetSplit(found, index);
            found--;
            index = Index(value, found);
            SetFree(found, index ^ 1);
        }

        State(order).Counters.Claims++;
        _freePages -= 1L << order;
    }
}
