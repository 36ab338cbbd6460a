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
}
