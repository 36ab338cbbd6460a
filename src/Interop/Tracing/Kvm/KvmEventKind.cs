namespace FastRmp.Interop.Tracing.Kvm;

/// <summary>The typed events FastRmp decodes: KVM tracepoints and QEMU trace events (ftrace backend).</summary>
public enum KvmEventKind
{
    /// <summary>Not a typed event.</summary>
    None,

    /// <summary>kvm:kvm_exit.</summary>
    Exit,

    /// <summary>kvm:kvm_entry.</summary>
    Entry,

    /// <summary>kvm:kvm_page_fault (both the >= 6.1 and the older format).</summary>
    PageFault,

    /// <summary>kvmmmu:kvm_mmu_spte_requested.</summary>
    SpteRequested,

    /// <summary>kvmmmu:kvm_mmu_set_spte.</summary>
    SetSpte,

    /// <summary>kvmmmu:kvm_tdp_mmu_spte_changed.</summary>
    TdpMmuSpteChanged,

    /// <summary>kvmmmu:kvm_mmu_split_huge_page.</summary>
    SplitHugePage,

    /// <summary>kvmmmu:fast_page_fault.</summary>
    FastPageFault,

    /// <summary>kvm:kvm_userspace_exit.</summary>
    UserspaceExit,

    /// <summary>kvm:kvm_vm_set_mem_attributes.</summary>
    SetMemAttributes,

    /// <summary>kvm:kvm_rmp_fault (SEV-SNP).</summary>
    RmpFault,

    /// <summary>kvm:kvm_vmgexit_enter.</summary>
    VmgexitEnter,

    /// <summary>kvm:kvm_vmgexit_exit.</summary>
    VmgexitExit,

    /// <summary>kvm:kvm_vmgexit_msr_protocol_enter.</summary>
    VmgexitMsrProtocolEnter,

    /// <summary>kvm:kvm_hypercall (KVM_HC_MAP_GPA_RANGE is nr 12).</summary>
    Hypercall,

    /// <summary>kvm:kvm_unmap_hva_range.</summary>
    UnmapHvaRange,

    /// <summary>sched:sched_process_fork (a new thread or process; which one, the event does not say).</summary>
    ProcessFork,

    /// <summary>sched:sched_process_exec (a task starts a new program).</summary>
    ProcessExec,

    /// <summary>QEMU kvm_set_user_memory (a memslot change).</summary>
    QemuSetUserMemory,

    /// <summary>QEMU kvm_convert_memory.</summary>
    QemuConvertMemory,

    /// <summary>QEMU kvm_memory_fault.</summary>
    QemuMemoryFault,

    /// <summary>QEMU kvm_hc_map_gpa_range.</summary>
    QemuHcMapGpaRange,

    /// <summary>QEMU kvm_sev_snp_launch_update.</summary>
    QemuSevSnpLaunchUpdate,
}
