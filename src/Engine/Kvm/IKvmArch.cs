using FastRmp.Engine.Gmem;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// The vendor hooks KVM's private-fault path calls (<c>kvm_x86_ops</c>; kernel-domain.md 2.5, 4.6): the guest_memfd
/// hooks and the mapping-level clamp, plus the SNP RMP #NPF handler. A VM without hardware protection has none.
/// </summary>
public interface IKvmArch : IGmemArch
{
    /// <summary>
    /// <c>gmem_max_mapping_level(kvm, pfn, is_private)</c> (6.18; <c>private_max_mapping_level</c> 6.11-6.17): a
    /// ceiling on the NPT level for <paramref name="pfn"/>, or <see cref="PgLevel.None"/> for no restriction.
    /// </summary>
    PgLevel MaxMappingLevel(kvm_pfn_t pfn, bool isPrivate);

    /// <summary>
    /// <c>sev_handle_rmp_fault(vcpu, gpa, error_code)</c>: called after an #NPF with the RMP bit was handled by the
    /// MMU. Returns what it did. What of the VM it may read and change is in <paramref name="kvm"/>.
    /// </summary>
    RmpFaultOutcome HandleRmpFault(ref KvmHookContext kvm, gpa_t gpa, PageFaultErrorCode errorCode);

    /// <summary>When guest_memfd's get_pfn calls <see cref="IGmemArch.Prepare"/>.</summary>
    GmemPrepareMode PrepareMode => GmemPrepareMode.OncePerFolio;

    /// <summary>
    /// A hook in the private fault path, after get_pfn and max_level (the RFC v4 07/10 <c>gmem_prepare(kvm, slot,
    /// pfn, gfn, &amp;max_level)</c>, called from <c>kvm_faultin_pfn_private</c>): may convert the page and lower
    /// <c>fault.max_level</c>. What of the VM it may read (the memory attributes, for "is the gfn range private") is
    /// in <paramref name="kvm"/>. Returns 0 or a negative errno.
    /// </summary>
    int PrepareInFaultPath(ref KvmHookContext kvm, ref kvm_page_fault_v6_13 fault) => 0;

    /// <summary>
    /// True when these hooks do the same, known work for every fresh 4 KiB folio: a folio
    /// guest_memfd allocates for a private fault that maps it at 4K, whose page is hypervisor-owned in the RMP and not
    /// in use. The VM then faults runs of such pages in at once through <see cref="PrepareFreshRun4K"/>; when false
    /// (the default) it takes them one by one.
    /// </summary>
    /// <remarks>Not a kernel hook: the model's batched fault path (docs/policies.md, "Batched faults").</remarks>
    bool PreparesFreshRuns4K => false;

    /// <summary>
    /// Everything <see cref="IGmemArch.FolioAllocated"/>, <see cref="IGmemArch.Prepare"/> (as
    /// <see cref="PrepareMode"/> calls it from get_pfn) and <see cref="PrepareInFaultPath"/> do, page by page, for
    /// fresh 4 KiB folios: the i-th page of <paramref name="pages"/> at file index <paramref name="index"/> + i and gfn
    /// <paramref name="gfn"/> + i; the same RMP entries and the same counts. Called only when
    /// <see cref="PreparesFreshRuns4K"/> is true, with pages the RMP holds as hypervisor-owned and not in use.
    /// </summary>
    void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<Allocation.PfnRange> pages)
        => throw new NotSupportedException("These hooks prepare fresh folios one by one.");

    /// <summary>
    /// True when private leaves are mirrored into page tables the vendor owns (TDX's Secure EPT): KVM's mirror root
    /// calls <see cref="SetExternalLeaf"/> for every private leaf it installs and <see cref="RemoveExternalLeaves"/>
    /// before it zaps private leaves (<c>kvm_x86_ops.link_external_spt</c>, <c>set_external_spte</c>,
    /// <c>remove_external_spte</c>; arch/x86/kvm/mmu/tdp_mmu.c, 6.16).
    /// </summary>
    bool HasExternalPageTables => false;

    /// <summary>
    /// True when a private zap that starts or ends inside a huge leaf first splits that leaf so that only the range
    /// goes (the TDX huge-page series' <c>kvm_split_cross_boundary_leafs</c>); the VM then calls
    /// <see cref="SplitExternalLeaf"/> for each such 2 MiB block.
    /// </summary>
    bool SplitsAtZapBoundaries => false;

    /// <summary>
    /// <c>set_external_spte</c> (with <c>link_external_spt</c> for the tables on the way): the private leaf at
    /// <paramref name="gfn"/> (aligned to <paramref name="level"/>) now maps <paramref name="pfn"/>. Returns 0 or a
    /// negative errno (the fault is retried).
    /// </summary>
    int SetExternalLeaf(ref KvmHookContext kvm, gfn_t gfn, PgLevel level, kvm_pfn_t pfn) => 0;

    /// <summary><c>remove_external_spte</c> for every private leaf that maps a gfn of [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void RemoveExternalLeaves(ref KvmHookContext kvm, gfn_t start, gfn_t end)
    {
    }

    /// <summary><c>split_external_spt</c>: the private 2 MiB leaf of the block at <paramref name="block"/> becomes 512 4 KiB leaves.</summary>
    void SplitExternalLeaf(ref KvmHookContext kvm, gfn_t block)
    {
    }
}

/// <summary>What the RMP #NPF handler did.</summary>
public enum RmpFaultOutcome
{
    /// <summary>Nothing to do (not private, or the RMP entry is already 4K: a spurious fault).</summary>
    Spurious,

    /// <summary>PSMASHed the 2M entry and zapped the 2 MiB range so it re-faults at 4K.</summary>
    Smashed,

    /// <summary>The handler hit a state it WARNs about (no slot, no gmem, lookup failure).</summary>
    Warned,
}
