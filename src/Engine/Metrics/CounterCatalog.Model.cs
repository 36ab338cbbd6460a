namespace FastRmp.Engine.Metrics;

// The model's counters (Host.Result), in the order it produces them. Kernel sources name 6.18.
public static partial class CounterCatalog
{
    private const string Mmu = "arch/x86/kvm/mmu/mmu.c, 6.18";
    private const string TdpMmu = "arch/x86/kvm/mmu/tdp_mmu.c, 6.18";
    private const string KvmSev = "arch/x86/kvm/svm/sev.c, 6.18";
    private const string HostSev = "arch/x86/virt/svm/sev.c, 6.18";

    /// <summary><c>faults_private</c>: guest page faults KVM handled with <c>is_private</c> set.</summary>
    public static CounterInfo FaultsPrivate { get; } = ModelCounter(
        "faults_private", "private faults", "faults", "#NPF exits KVM handled through the full fault path with is_private set (fast-path fixes are wp_faults)",
        $"kvm_mmu_page_fault -> kvm_tdp_page_fault, fault->is_private, {Mmu}");

    /// <summary><c>faults_shared</c>: guest page faults KVM handled with <c>is_private</c> clear.</summary>
    public static CounterInfo FaultsShared { get; } = ModelCounter(
        "faults_shared", "shared faults", "faults", "#NPF exits KVM handled through the full fault path with is_private clear (fast-path fixes are wp_faults)",
        $"kvm_mmu_page_fault -> kvm_tdp_page_fault, !fault->is_private, {Mmu}");

    /// <summary><c>memory_fault_exits</c>: KVM_EXIT_MEMORY_FAULT exits to userspace.</summary>
    public static CounterInfo MemoryFaultExits { get; } = ModelCounter(
        "memory_fault_exits", "mem exits", "exits", "KVM_EXIT_MEMORY_FAULT exits (attribute mismatch, no guest_memfd, get_pfn failure)",
        $"kvm_mmu_prepare_memory_fault_exit, {Mmu}");

    /// <summary><c>hypercall_exits</c>: MAP_GPA_RANGE exits, the guest's page-state changes.</summary>
    public static CounterInfo HypercallExits { get; } = ModelCounter(
        "hypercall_exits", "PSC exits", "exits", "KVM_EXIT_HYPERCALL (KVM_HC_MAP_GPA_RANGE) exits: the guest's page-state changes",
        $"snp_begin_psc / snp_begin_psc_msr, {KvmSev}");

    /// <summary><c>shared_from_gmem</c>: shared faults served from guest_memfd.</summary>
    public static CounterInfo SharedFromGmem { get; } = ModelCounter(
        "shared_from_gmem", "shared gmem faults", "faults",
        "shared faults a GMEM_ONLY memslot served from guest_memfd (an MMAP guest_memfd, or any with in-place conversion) instead of the VMM's own memory",
        $"kvm_mmu_faultin_pfn -> kvm_mmu_faultin_pfn_gmem for kvm_memslot_is_gmem_only, {Mmu}; in place: kvm-x86 2026 (2e646bcfcf90)");

    /// <summary><c>conversions_busy</c>: in-place conversions to private refused with -EAGAIN.</summary>
    public static CounterInfo ConversionsBusy { get; } = ModelCounter(
        "conversions_busy", "busy conversions", "ioctls",
        "KVM_SET_MEMORY_ATTRIBUTES2 conversions to private refused with -EAGAIN because a page of the range was still referenced (userspace retries)",
        "__kvm_gmem_set_attributes -> kvm_gmem_has_outstanding_references, virt/kvm/guest_memfd.c, kvm-x86 2026 (dcde2f853ff4)");

    /// <summary><c>launch_update_failures</c>: SNP_LAUNCH_UPDATE calls that failed.</summary>
    public static CounterInfo LaunchUpdateFailures { get; } = ModelCounter(
        "launch_update_failures", "launch fails", "calls", "SNP_LAUNCH_UPDATE calls that failed (a payload folio converted before populate)",
        $"snp_launch_update -> kvm_gmem_populate -> sev_gmem_post_populate, {KvmSev}");

    /// <summary><c>stuck_accesses</c>: guest accesses the model could not complete.</summary>
    public static CounterInfo StuckAccesses { get; } = ModelCounter(
        "stuck_accesses", "stuck accesses", "accesses",
        "guest accesses that could not complete: the vCPU would spin on #NPF(RMP) forever, or the guest took #VC on a page it could not validate",
        "model: the guest's driver (scenario guest behaviour, replay); the spin is sev_handle_rmp_fault finding no assigned entry, " + KvmSev);

    /// <summary><c>retries</c>: faults that returned RET_PF_RETRY.</summary>
    public static CounterInfo Retries { get; } = ModelCounter(
        "retries", "retries", "faults", "faults that returned RET_PF_RETRY (invalid slot, invalidation in progress)",
        $"RET_PF_RETRY in kvm_mmu_page_fault's handlers, {Mmu}");

    /// <summary><c>rmpupdate_4k</c>: successful 4K RMPUPDATEs.</summary>
    public static CounterInfo RmpUpdate4K { get; } = ModelCounter(
        "rmpupdate_4k", "RMPUPDATE 4K", "instructions", "successful RMPUPDATEs of a 4 KiB entry",
        $"rmpupdate (rmp_make_private / rmp_make_shared), {HostSev}; AMD APM vol. 3 RMPUPDATE");

    /// <summary><c>rmpupdate_2m</c>: successful 2M RMPUPDATEs.</summary>
    public static CounterInfo RmpUpdate2M { get; } = ModelCounter(
        "rmpupdate_2m", "RMPUPDATE 2M", "instructions", "successful RMPUPDATEs of a 2 MiB entry",
        $"rmpupdate (rmp_make_private / rmp_make_shared), {HostSev}; AMD APM vol. 3 RMPUPDATE");

    /// <summary><c>rmpupdate_to_private</c>: successful RMPUPDATEs that assigned the page.</summary>
    public static CounterInfo RmpUpdateToPrivate { get; } = ModelCounter(
        "rmpupdate_to_private", "RMPUPDATE to private", "instructions", "successful RMPUPDATEs that assigned the page (to the guest or the firmware)",
        $"rmp_make_private, {HostSev}");

    /// <summary><c>rmpupdate_to_shared</c>: successful RMPUPDATEs that returned the page to the hypervisor.</summary>
    public static CounterInfo RmpUpdateToShared { get; } = ModelCounter(
        "rmpupdate_to_shared", "RMPUPDATE to shared", "instructions", "successful RMPUPDATEs that returned the page to the hypervisor",
        $"rmp_make_shared, {HostSev}");

    /// <summary><c>rmpupdate_failed</c>: RMPUPDATEs the hardware refused.</summary>
    public static CounterInfo RmpUpdateFailed { get; } = ModelCounter(
        "rmpupdate_failed", "RMPUPDATE failed", "instructions", "RMPUPDATEs that returned a failure code (e.g. FAIL_OVERLAP inside a 2M entry)",
        $"rmpupdate's return value, {HostSev}; AMD APM vol. 3 RMPUPDATE");

    /// <summary><c>psmash</c>: successful PSMASHes.</summary>
    public static CounterInfo Psmash { get; } = ModelCounter(
        "psmash", "PSMASH", "instructions", "successful PSMASHes: a 2M RMP entry split into 512 4K entries",
        $"psmash, {HostSev}; AMD APM vol. 3 PSMASH");

    /// <summary><c>rmp_lookups</c>: RMP lookups KVM made.</summary>
    public static CounterInfo RmpLookups { get; } = ModelCounter(
        "rmp_lookups", "RMP lookups", "lookups", "RMP lookups KVM made (prepare, the level clamp, the RMP fault handler)",
        $"snp_lookup_rmpentry, {HostSev}, from sev_gmem_prepare, the max-mapping-level hook and sev_handle_rmp_fault, {KvmSev}");

    /// <summary><c>rmp_npf</c>: #NPF(RMP) the hardware raised after KVM had mapped the page.</summary>
    public static CounterInfo RmpNpf { get; } = ModelCounter(
        "rmp_npf", "extra #NPF", "faults", "#NPF exits with the RMP bit the hardware raised after KVM had mapped the page, handled by sev_handle_rmp_fault: the debate's extra faults",
        $"#NPF with PFERR_GUEST_RMP_MASK -> sev_handle_rmp_fault, {KvmSev}; AMD APM vol. 2 15.36.10");

    /// <summary><c>zapped</c>: SPTEs zapped.</summary>
    public static CounterInfo Zapped { get; } = ModelCounter(
        "zapped", "SPTEs zapped", "SPTEs", "SPTEs zapped (attribute changes, guest_memfd invalidation, RMP fault handling)",
        $"kvm_tdp_mmu_unmap_gfn_range / tdp_mmu_zap_leafs, {TdpMmu}");

    /// <summary><c>wp_faults</c>: write-protection #NPFs fixed by <c>fast_page_fault</c>.</summary>
    public static CounterInfo WpFaults { get; } = ModelCounter(
        "wp_faults", "wp faults", "faults",
        "#NPF exits (present, write) on a leaf dirty logging write-protected, fixed by fast_page_fault: no get_pfn, no new leaf, not in faults_private/faults_shared",
        $"fast_page_fault (page_fault_can_be_fast, fast_pf_fix_direct_spte), {Mmu}; write protection from kvm_mmu_slot_apply_flags, arch/x86/kvm/x86.c, 6.18");

    /// <summary><c>huge_splits</c>: huge NPT leaves split into 512 smaller leaves over the same memory.</summary>
    public static CounterInfo HugeSplits { get; } = ModelCounter(
        "huge_splits", "huge splits", "leaves",
        "huge NPT leaves split into 512 leaves one level down over the same frames (eager split when dirty logging starts, or a smaller mapping installed inside a huge leaf); no exit",
        $"kvm_mmu_slot_try_split_huge_pages / tdp_mmu_split_huge_page (traced as kvm_mmu_split_huge_page), {TdpMmu}");

    /// <summary><c>mapped_4k</c>: 4K leaves installed over the run.</summary>
    public static CounterInfo Mapped4K { get; } = ModelCounter(
        "mapped_4k", "mapped 4K", "leaves", "4 KiB NPT leaves installed over the run",
        $"tdp_mmu_map_handle_target_level at PG_LEVEL_4K (traced as kvm_mmu_spte_requested), {TdpMmu}");

    /// <summary><c>mapped_2m</c>: 2M leaves installed over the run.</summary>
    public static CounterInfo Mapped2M { get; } = ModelCounter(
        "mapped_2m", "mapped 2M", "leaves", "2 MiB NPT leaves installed over the run",
        $"tdp_mmu_map_handle_target_level at PG_LEVEL_2M (traced as kvm_mmu_spte_requested), {TdpMmu}");

    /// <summary><c>mapped_1g</c>: 1G leaves installed over the run.</summary>
    public static CounterInfo Mapped1G { get; } = ModelCounter(
        "mapped_1g", "mapped 1G", "leaves", "1 GiB NPT leaves installed over the run",
        $"tdp_mmu_map_handle_target_level at PG_LEVEL_1G (traced as kvm_mmu_spte_requested), {TdpMmu}");

    /// <summary><c>npt_4k</c>: 4K NPT leaves at the end.</summary>
    public static CounterInfo Npt4K { get; } = ModelCounter(
        "npt_4k", "NPT 4K", "leaves", "4 KiB NPT leaves present at the end",
        "model: the TDP MMU's leaf SPTEs at the end, by level");

    /// <summary><c>npt_2m</c>: 2M NPT leaves at the end.</summary>
    public static CounterInfo Npt2M { get; } = ModelCounter(
        "npt_2m", "NPT 2M", "leaves", "2 MiB NPT leaves present at the end",
        "model: the TDP MMU's leaf SPTEs at the end, by level");

    /// <summary><c>npt_1g</c>: 1G NPT leaves at the end.</summary>
    public static CounterInfo Npt1G { get; } = ModelCounter(
        "npt_1g", "NPT 1G", "leaves", "1 GiB NPT leaves present at the end",
        "model: the TDP MMU's leaf SPTEs at the end, by level");

    /// <summary><c>rmp_2m_entries</c>: the guest's 2M RMP entries at the end.</summary>
    public static CounterInfo Rmp2MEntries { get; } = ModelCounter(
        "rmp_2m_entries", "RMP 2M", "entries", "2 MiB RMP entries assigned to the guest at the end, over its guest_memfd folios",
        "model: the RMP (AMD APM vol. 2 15.36.3) walked over the guest_memfd folios at the end");

    /// <summary><c>rmp_4k_entries</c>: the guest's 4K RMP entries at the end.</summary>
    public static CounterInfo Rmp4KEntries { get; } = ModelCounter(
        "rmp_4k_entries", "RMP 4K", "entries", "4 KiB RMP entries assigned to the guest at the end, over its guest_memfd folios",
        "model: the RMP (AMD APM vol. 2 15.36.3) walked over the guest_memfd folios at the end");

    /// <summary><c>folios_4k</c>: live 4K guest_memfd folios at the end.</summary>
    public static CounterInfo Folios4K { get; } = ModelCounter(
        "folios_4k", "folios 4K", "folios", "live order-0 guest_memfd folios at the end",
        "model: the guest_memfd files' page caches (virt/kvm/guest_memfd.c, 6.18) at the end");

    /// <summary><c>folios_2m</c>: live 2M guest_memfd folios at the end.</summary>
    public static CounterInfo Folios2M { get; } = ModelCounter(
        "folios_2m", "folios 2M", "folios", "live order-9 guest_memfd folios at the end",
        "model: the guest_memfd files' page caches (virt/kvm/guest_memfd.c, 6.18) at the end");

    /// <summary><c>folios_1g</c>: live 1G guest_memfd folios at the end.</summary>
    public static CounterInfo Folios1G { get; } = ModelCounter(
        "folios_1g", "folios 1G", "folios", "live order-18 guest_memfd folios at the end",
        "model: the guest_memfd files' page caches (virt/kvm/guest_memfd.c, 6.18) at the end");

    /// <summary><c>fragmentation_index_order9</c>: the host allocator's extfrag index for order 9, x1000.</summary>
    public static CounterInfo FragmentationIndexOrder9 { get; } = ModelCounter(
        "fragmentation_index_order9", "extfrag order 9", "index x1000", "the host allocator's fragmentation index for order 9 at the end (-1000 when a free block of that order exists)",
        "__fragmentation_index, mm/vmstat.c, 6.18");

    private static CounterInfo ModelCounter(string name, string title, string unit, string description, string source)
        => new(name, title, unit, description, source, CounterSet.Model);
}
