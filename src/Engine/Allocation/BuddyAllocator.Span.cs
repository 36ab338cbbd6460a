using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed partial class BuddyAllocator
{
    /// <summary>
    /// True when every page of [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) lies
    /// in the allocator's range and is free; false when any page is allocated or outside the range.
    /// </summary>
    /// <remarks>
    /// Walks the span in the largest aligned blocks that fit; with eager merging an aligned block is entirely free
    /// exactly when one free block of its order or larger covers it (searched from the largest order, which covers
    /// memory never allocated), so each step is at most
    /// <see cref="MaxOrder"/> + 1 bit tests, and a covering free block is skipped whole. An empty span is free.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public bool IsSpanFree(kvm_pfn_t first, ulong count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong pfn = first.Value;
        if (count == 0)
        {
            return true;
        }

        if (pfn < _basePfn || pfn >= _endPfn || count > _endPfn - pfn)
        {
            return false;
        }

        ulong end = pfn + count;
        while (pfn < end)
        {
            int alignment = pfn == 0 ? _maxOrder : System.Numerics.BitOperations.TrailingZeroCount(pfn);
            int order = Math.Min(_maxOrder, Math.Min(alignment, System.Numerics.BitOperations.Log2(end - pfn)));
            int found = FreeAncestorOrderFromTop(pfn, order);
            if (found < 0)
            {
                return false;
            }

            pfn = (pfn & ~((1UL << found) - 1)) + (1UL << found);
        }

        return true;
    }
}
