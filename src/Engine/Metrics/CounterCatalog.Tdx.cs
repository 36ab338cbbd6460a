namespace FastRmp.Engine.Metrics;

// The counters of a TDX host (HostOptions.VmType = TDX), which Host.Result appends after the model's; docs/tdx.md.
public static partial class CounterCatalog
{
    private const string KvmTdx = "arch/x86/kvm/vmx/tdx.c, 6.16";
    private const string HostTdx = "arch/x86/virt/vmx/tdx/tdx.c, 6.16";
    private const string HugeSeries = "TDX huge-page series RFC v2 (Yan Zhao, 2025-08-07)";
    private const string DpamtSeries = "Dynamic PAMT (tip x86/tdx, 2026-09)";

    /// <summary><c>tdx_page_add</c>: TDH.MEM.PAGE.ADD.</summary>
    public static CounterInfo TdxPageAdd { get; } = TdxCounter(
        "tdx_page_add", "PAGE.ADD", "SEAMCALLs", "4 KiB pages of the initial image added while the TD was built (KVM_TDX_INIT_MEM_REGION)",
        $"tdx_gmem_post_populate -> tdh_mem_page_add, {KvmTdx}");

    /// <summary><c>tdx_page_aug_4k</c>: TDH.MEM.PAGE.AUG at 4 KiB.</summary>
    public static CounterInfo TdxPageAug4K { get; } = TdxCounter(
        "tdx_page_aug_4k", "AUG 4K", "SEAMCALLs", "private 4 KiB pages mapped PENDING into the Secure EPT at run time",
        $"tdx_sept_set_private_spte -> tdx_mem_page_aug, {KvmTdx}");

    /// <summary><c>tdx_page_aug_2m</c>: TDH.MEM.PAGE.AUG at 2 MiB.</summary>
    public static CounterInfo TdxPageAug2M { get; } = TdxCounter(
        "tdx_page_aug_2m", "AUG 2M", "SEAMCALLs", "private 2 MiB pages mapped PENDING into the Secure EPT (huge-page series only)",
        $"tdx_mem_page_aug at PG_LEVEL_2M, {HugeSeries}");

    /// <summary><c>tdx_sept_add</c>: TDH.MEM.SEPT.ADD.</summary>
    public static CounterInfo TdxSeptAdd { get; } = TdxCounter(
        "tdx_sept_add", "SEPT.ADD", "SEAMCALLs", "Secure EPT page-table pages KVM handed to the TDX module",
        $"tdx_sept_link_private_spt -> tdh_mem_sept_add, {KvmTdx}");

    /// <summary><c>tdx_range_block</c>: TDH.MEM.RANGE.BLOCK.</summary>
    public static CounterInfo TdxRangeBlock { get; } = TdxCounter(
        "tdx_range_block", "BLOCK", "SEAMCALLs", "Secure EPT leaves blocked before a removal or a demotion",
        $"tdx_sept_zap_private_spte -> tdh_mem_range_block, {KvmTdx}");

    /// <summary><c>tdx_track</c>: TDH.MEM.TRACK, each with a kick of every vCPU.</summary>
    public static CounterInfo TdxTrack { get; } = TdxCounter(
        "tdx_track", "TRACK", "SEAMCALLs", "TD epoch advances, each followed by a kick of every vCPU out of the guest (one per removed or demoted leaf)",
        $"tdx_track -> tdh_mem_track + KVM_REQ_OUTSIDE_GUEST_MODE, {KvmTdx}");

    /// <summary><c>tdx_demote</c>: TDH.MEM.PAGE.DEMOTE.</summary>
    public static CounterInfo TdxDemote { get; } = TdxCounter(
        "tdx_demote", "DEMOTE", "SEAMCALLs", "2 MiB Secure EPT leaves split into 512 4 KiB leaves (TDX's counterpart of PSMASH)",
        $"tdx_sept_split_private_spt -> tdh_mem_page_demote, {HugeSeries}");

    /// <summary><c>tdx_remove</c>: TDH.MEM.PAGE.REMOVE.</summary>
    public static CounterInfo TdxRemove { get; } = TdxCounter(
        "tdx_remove", "REMOVE", "SEAMCALLs", "private pages removed from the Secure EPT (conversion to shared, hole punch, memslot deletion)",
        $"tdx_sept_drop_private_spte -> tdh_mem_page_remove, {KvmTdx}");

    /// <summary><c>tdx_wbinvd</c>: TDH.PHYMEM.PAGE.WBINVD.</summary>
    public static CounterInfo TdxWbinvd { get; } = TdxCounter(
        "tdx_wbinvd", "WBINVD", "SEAMCALLs", "cache write-back and invalidation of removed pages under the TD's key",
        $"tdx_sept_drop_private_spte -> tdh_phymem_page_wbinvd_hkid, {KvmTdx}");

    /// <summary><c>tdx_accepted_4k</c>: 4 KiB guest acceptances.</summary>
    public static CounterInfo TdxAccepted4K { get; } = TdxCounter(
        "tdx_accepted_4k", "accepted 4K", "TDCALLs", "TDG.MEM.PAGE.ACCEPT calls that accepted a 4 KiB page",
        "try_accept_one, arch/x86/coco/tdx/tdx-shared.c, 6.16");

    /// <summary><c>tdx_accepted_2m</c>: 2 MiB guest acceptances.</summary>
    public static CounterInfo TdxAccepted2M { get; } = TdxCounter(
        "tdx_accepted_2m", "accepted 2M", "TDCALLs", "TDG.MEM.PAGE.ACCEPT calls that accepted a 2 MiB page",
        "try_accept_one, arch/x86/coco/tdx/tdx-shared.c, 6.16");

    /// <summary><c>tdx_accept_size_mismatch</c>: acceptances refused with TDX_PAGE_SIZE_MISMATCH.</summary>
    public static CounterInfo TdxAcceptSizeMismatch { get; } = TdxCounter(
        "tdx_accept_size_mismatch", "accept mismatch", "TDCALLs", "TDG.MEM.PAGE.ACCEPT calls larger than the Secure EPT mapping: TDX_PAGE_SIZE_MISMATCH, the guest retries smaller",
        $"TDX module ABI; tdx_accept_memory; {HugeSeries}, open 2");

    /// <summary><c>tdx_accept_ept_violations</c>: acceptances that exited to KVM.</summary>
    public static CounterInfo TdxAcceptEptViolations { get; } = TdxCounter(
        "tdx_accept_ept_violations", "accept exits", "exits", "TDG.MEM.PAGE.ACCEPT calls that took an EPT violation to KVM (nothing mapped, or a larger pending leaf)",
        $"tdx_handle_ept_violation, {KvmTdx}; {HugeSeries}");

    /// <summary><c>tdx_accept_splits</c>: huge leaves split for a smaller acceptance.</summary>
    public static CounterInfo TdxAcceptSplits { get; } = TdxCounter(
        "tdx_accept_splits", "accept splits", "leaves", "2 MiB leaves KVM split because the guest accepted at 4 KiB (GUEST_INHIBIT set)",
        $"tdx_handle_ept_violation split + KVM_LPAGE_GUEST_INHIBIT_FLAG, {HugeSeries}, patches 13-14");

    /// <summary><c>tdx_unaccepted_accesses</c>: guest accesses to pending pages (KVM kills the TD).</summary>
    public static CounterInfo TdxUnacceptedAccesses { get; } = TdxCounter(
        "tdx_unaccepted_accesses", "unaccepted", "accesses", "guest accesses to a private page that was mapped but never accepted: KVM marks the TD dead",
        $"tdx_is_sept_violation_unexpected_pending -> kvm_vm_dead, {KvmTdx}");

    /// <summary><c>tdx_pamt_add</c>: TDH.PHYMEM.PAMT.ADD.</summary>
    public static CounterInfo TdxPamtAdd { get; } = TdxCounter(
        "tdx_pamt_add", "PAMT.ADD", "SEAMCALLs", "2 MiB ranges that got Dynamic PAMT pages (a refcount going 0 -> 1)",
        $"tdx_pamt_get, {DpamtSeries}, {HostTdx}");

    /// <summary><c>tdx_pamt_remove</c>: TDH.PHYMEM.PAMT.REMOVE.</summary>
    public static CounterInfo TdxPamtRemove { get; } = TdxCounter(
        "tdx_pamt_remove", "PAMT.REMOVE", "SEAMCALLs", "2 MiB ranges whose Dynamic PAMT pages were freed (a refcount going 1 -> 0)",
        $"tdx_pamt_put, {DpamtSeries}, {HostTdx}");

    /// <summary><c>tdx_sept_pages</c>: Secure EPT page-table pages at the end.</summary>
    public static CounterInfo TdxSeptPages { get; } = TdxCounter(
        "tdx_sept_pages", "S-EPT pages", "pages", "Secure EPT page-table pages the TD holds at the end (4 KiB each; freed only when the TD is destroyed)",
        $"tdx_sept_free_private_spt (only at teardown), {KvmTdx}");

    /// <summary><c>tdx_pamt_bytes</c>: PAMT memory at the end.</summary>
    public static CounterInfo TdxPamtBytes { get; } = TdxCounter(
        "tdx_pamt_bytes", "PAMT bytes", "bytes", "memory the PAMT takes at the end: the static levels, plus Dynamic PAMT's refcounts and page pairs in use",
        $"tdmr_get_pamt_sz / tdmr_get_pamt_bitmap_sz, {HostTdx}; {DpamtSeries}");

    /// <summary><c>tdx_pamt_peak_bytes</c>: the most PAMT memory at once.</summary>
    public static CounterInfo TdxPamtPeakBytes { get; } = TdxCounter(
        "tdx_pamt_peak_bytes", "PAMT peak", "bytes", "the most memory the PAMT took at once during the run",
        $"model: the peak of tdx_pamt_bytes; {DpamtSeries}");

    private static CounterInfo TdxCounter(string name, string title, string unit, string description, string source)
        => new(name, title, unit, description, source, CounterSet.Tdx);
}
