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
