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
    /// Allocates up to <c>pfns.Length</c> single pages exactly as that many <see cref="TryAllocate"/>(0) calls in a
    /// row would (the same pages in the same order, the same state afterwards), stopping early at exhaustion or before
    /// pages that <paramref name="filter"/> refuses. Returns how many pages were allocated (the first ones of
    /// <paramref name="pfns"/>).
    /// </summary>
    /// <remarks>
    /// Not a kernel interface (the kernel's bulk allocator, <c>alloc_pages_bulk</c>, is not what guest_memfd uses):
    /// it lets the model fault in a run of 4 KiB folios at once. The default allocates nothing, and callers then
    /// allocate page by page.
    /// </remarks>
    int TryAllocateRun<TFilter>(Span<kvm_pfn_t> pfns, ref TFilter filter)
        where TFilter : struct, IPfnRunFilter
        => 0;
}

/// <summary>Tells <see cref="IFolioAllocator.TryAllocateRun"/> which pages a run may take (a struct: calls are inlined).</summary>
public interface IPfnRunFilter
{
    /// <summary>True when the pages [<paramref name="first"/>, + <paramref name="count"/>) may be taken.</summary>
    bool Accept(kvm_pfn_t first, ulong count);
}
