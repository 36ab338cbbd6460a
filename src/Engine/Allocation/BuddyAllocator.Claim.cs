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
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void Claim(kvm_pfn_t pfn, int order)
    {
        if (!TryClaim(pfn, order))
        {
            ThrowNotFree(pfn.Value, order);
        }
    }

    /// <summary>
    /// <see cref="Claim"/> when the block is entirely free (true); false, with the allocator unchanged, when part of
    /// it is allocated. One search for the covering free block serves the test and the claim.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The order is negative or above <see cref="MaxOrder"/>, or the block lies outside the range.</exception>
    /// <exception cref="ArgumentException"><paramref name="pfn"/> is not aligned to 2^<paramref name="order"/> pages.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public bool TryClaim(kvm_pfn_t pfn, int order)
    {
        ulong value = pfn.Value;
        ValidateBlock(nameof(Claim), value, order);
        int found = FreeAncestorOrder(value, order);
        if (found < 0)
        {
            return false;
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
        return true;
    }

    /// <summary>True when the aligned block of 2^<paramref name="order"/> pages at <paramref name="pfn"/> is entirely free, so <see cref="Claim"/> would succeed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The order is negative or above <see cref="MaxOrder"/>, or the block lies outside the range.</exception>
    /// <exception cref="ArgumentException"><paramref name="pfn"/> is not aligned to 2^<paramref name="order"/> pages.</exception>
    public bool IsRangeFree(kvm_pfn_t pfn, int order)
    {
        ValidateBlock(nameof(IsRangeFree), pfn.Value, order);
        return FreeAncestorOrder(pfn.Value, order) >= 0;
    }

    // The order of the free block that covers (pfn, order), or -1: with eager merging at most one ancestor is free.
    private int FreeAncestorOrder(ulong pfn, int order)
    {
        for (int k = order; k <= _maxOrder; k++)
        {
            if (IsFree(k, Index(pfn, k)))
            {
                return k;
            }
        }

        return -1;
    }

    // The same, searched from the top: a block of memory never touched is covered by a free block of the largest order.
    private int FreeAncestorOrderFromTop(ulong pfn, int order)
    {
        for (int k = _maxOrder; k >= order; k--)
        {
            if (IsFree(k, Index(pfn, k)))
            {
                return k;
            }
        }

        return -1;
    }
}
