using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

/// <summary>Where guest_memfd's folios come from: the host's page allocator.</summary>
public interface IFolioAllocator
{
    /// <summary>Allocates a naturally aligned block of 2^<paramref name="order"/> pages; false when memory is exhausted.</summary>
    bool TryAllocate(int order, out kvm_pfn_t pfn);

    /// <summary>Frees a block allocated at <paramref name="order"/>.</summary>
    void Free(kvm_pfn_t pfn, int order);

    /// <summary>True when the page at <paramref name="pfn"/> is free.</summary>
    bool IsFree(kvm_pfn_t pfn);

    /// <summary>Turns an allocated block into 2^<paramref name="order"/> allocated 4 KiB pages (<c>split_page</c>, a folio split).</summary>
    void Split(kvm_pfn_t pfn, int order);

    /// <summary>
    /// Allocates up to <paramref name="pages"/> single pages exactly as that many <see cref="TryAllocate"/>(0) calls
    /// in a row would (the same pages in the same order, the same state afterwards), stopping early at exhaustion or
    /// before pages that <paramref name="filter"/> refuses. The pages, in allocation order, go to
    /// <paramref name="ranges"/> as ranges of consecutive pfns (<paramref name="rangeCount"/> of them; the span must
    /// hold <paramref name="pages"/>). Returns how many pages were allocated.
    /// </summary>
    /// <remarks>
    /// Not a kernel interface (the kernel's bulk allocator, <c>alloc_pages_bulk</c>, is not what guest_memfd uses):
    /// it lets the model fault in a run of 4 KiB folios at once. The default allocates nothing, and callers then
    /// allocate page by page.
    /// </remarks>
    ulong TryAllocateRun<TFilter>(ulong pages, Span<PfnRange> ranges, out int rangeCount, ref TFilter filter)
        where TFilter : struct, IPfnRunFilter
    {
        rangeCount = 0;
        return 0;
    }
}

/// <summary>Consecutive host pages: pfns <paramref name="First"/> to <paramref name="First"/> + <paramref name="Count"/> - 1.</summary>
/// <param name="First">The first pfn.</param>
/// <param name="Count">Pages in the range.</param>
public readonly record struct PfnRange(kvm_pfn_t First, ulong Count);

/// <summary>Tells <see cref="IFolioAllocator.TryAllocateRun"/> which pages a run may take (a struct: calls are inlined).</summary>
public interface IPfnRunFilter
{
    /// <summary>True when the pages [<paramref name="first"/>, + <paramref name="count"/>) may be taken.</summary>
    bool Accept(kvm_pfn_t first, ulong count);
}
