using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed partial class BuddyAllocator
{
    /// <summary>True when the 4 KiB page at <paramref name="pfn"/> is free.</summary>
    public bool IsFree(kvm_pfn_t pfn) => IsRangeFree(pfn, 0);

    /// <summary>
    /// Turns the allocated block at <paramref name="pfn"/> of <paramref name="order"/> into 2^order allocated order-0
    /// pages, which can then be freed one by one. Models <c>split_page</c> (mm/page_alloc.c) as a large folio split
    /// needs it; done as a free and per-page claims, so the state ends exactly as if each page had been allocated alone.
    /// </summary>
    /// <exception cref="InvalidOperationException">The block is not allocated at that order (nothing changes).</exception>
    public void Split(kvm_pfn_t pfn, int order)
    {
        Free(pfn, order);
        for (ulong i = 0; i < 1UL << order; i++)
        {
            Claim(pfn + i, 0);
        }
    }
}
