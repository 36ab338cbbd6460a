using FastRmp.Interop;

namespace FastRmp.Engine.Gmem;

/// <summary>
/// The architecture hooks guest_memfd calls: <c>kvm_arch_gmem_prepare</c> when a folio is handed to the guest and
/// <c>kvm_arch_gmem_invalidate</c> when a folio is freed (virt/kvm/guest_memfd.c, 6.11-6.18; kernel-domain.md 5.1).
/// The policies of the 2023 debate implement these (and decide when they run).
/// </summary>
public interface IGmemArch
{
    /// <summary>
    /// <c>kvm_arch_gmem_prepare(kvm, gfn, pfn, order)</c>: make the folio that backs <paramref name="gfn"/> ready for
    /// the guest (for SNP: private in the RMP). Returns 0 or a negative errno.
    /// </summary>
    int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order);

    /// <summary><c>kvm_arch_gmem_invalidate(start, end)</c>: the pfns [start, end) are being freed.</summary>
    void Invalidate(kvm_pfn_t start, kvm_pfn_t end);

    /// <summary>
    /// A folio was allocated for file index <paramref name="index"/> (not a kernel hook: the point where the 2023
    /// "convert at allocation" proposal would act).
    /// </summary>
    void FolioAllocated(GuestMemfd file, ulong index, kvm_pfn_t pfn, int order)
    {
    }
}

/// <summary>The VM side of guest_memfd invalidation: zap the gfns bound to a file range.</summary>
public interface IGmemMmu
{
    /// <summary>
    /// <c>kvm_gmem_invalidate_begin</c> for one binding: zap the SPTEs of the gfns that file pages
    /// [<paramref name="pgoff"/>, <paramref name="pgoff"/> + <paramref name="npages"/>) of memslot
    /// <paramref name="slot"/> map.
    /// </summary>
    void Invalidate(int slot, ulong pgoff, ulong npages);

    /// <summary><c>kvm_gmem_invalidate_end</c>: the invalidation is over (faults that raced with it retry).</summary>
    void InvalidateEnd();

    /// <summary>
    /// An in-place conversion of file pages [<paramref name="pgoff"/>, <paramref name="pgoff"/> +
    /// <paramref name="npages"/>) bound to memslot <paramref name="slot"/> (<c>__kvm_gmem_set_attributes</c>, kvm-x86
    /// 2026): zap the gfns' mappings of the other kind (filter SHARED when converting to private, PRIVATE when
    /// converting to shared) and let the VM see the gfns' new attributes.
    /// </summary>
    void Convert(int slot, ulong pgoff, ulong npages, bool toPrivate)
    {
    }
}

/// <summary>When guest_memfd calls the arch prepare hook from <c>kvm_gmem_get_pfn</c>.</summary>
public enum GmemPrepareMode
{
    /// <summary>Never: the policy prepares elsewhere (the fault path, or allocation).</summary>
    Never,

    /// <summary>Once per folio lifetime, tracked by the folio's uptodate flag (6.11-6.18).</summary>
    OncePerFolio,

    /// <summary>On every get_pfn, with the folio's head gfn, pfn and order; the hook must be idempotent (7.0, "Remove preparation tracking").</summary>
    EveryGetPfn,

    /// <summary>
    /// On every get_pfn of an index guest_memfd holds private, with the page's own gfn and pfn and the order get_pfn
    /// reports (kvm-x86 2026, <c>kvm_arch_gmem_make_private</c>; see <see cref="Kvm.KvmKernel.MakePrivateHook"/>).
    /// </summary>
    MakePrivate,
}
