namespace FastRmp.Interop.Tracing.Kvm;

// Typed views of KVM tracepoints. Field names follow the tracepoint fields (arch/x86/kvm/trace.h,
// arch/x86/kvm/mmu/mmutrace.h, include/trace/events/kvm.h; see traces.md 1.5 and kernel-domain.md 6).
// Values a kernel generation does not record are 0 and reported through the Has* flags.

/// <summary>kvm:kvm_exit. <paramref name="ExitReason"/> is uint.MaxValue when only the symbolic reason is known (text input).</summary>
/// <param name="VcpuId">vcpu_id (absent before ~5.8: <paramref name="HasVcpuId"/> false).</param>
/// <param name="ExitReason">exit_reason (SVM: 0x400 npf, 0x403 vmgexit; VMX: basic exit reason).</param>
/// <param name="GuestRip">guest_rip.</param>
/// <param name="Isa">isa: 1 VMX, 2 SVM (0 unknown).</param>
/// <param name="Info1">info1 (SVM exit_info_1; for npf the #NPF error code).</param>
/// <param name="Info2">info2 (for npf the faulting GPA).</param>
/// <param name="IntrInfo">intr_info.</param>
/// <param name="ErrorCode">error_code.</param>
/// <param name="ReasonText">The printed reason (<c>npf</c>, <c>EPT_VIOLATION</c>) from text input; null for binary.</param>
/// <param name="HasVcpuId">True when the record carries vcpu_id.</param>
public readonly record struct KvmExit(uint VcpuId, uint ExitReason, ulong GuestRip, uint Isa, ulong Info1, ulong Info2, uint IntrInfo, uint ErrorCode, string? ReasonText, bool HasVcpuId);

/// <summary>kvm:kvm_entry.</summary>
/// <param name="VcpuId">vcpu_id.</param>
/// <param name="Rip">rip.</param>
/// <param name="ImmediateExit">immediate_exit.</param>
public readonly record struct KvmEntry(uint VcpuId, ulong Rip, bool ImmediateExit);

/// <summary>kvm:kvm_page_fault, both generations (before ~6.1 there is no vcpu_id/guest_rip and error_code is 32-bit).</summary>
/// <param name="VcpuId">vcpu_id (0 with <paramref name="HasVcpuId"/> false on old kernels).</param>
/// <param name="GuestRip">guest_rip.</param>
/// <param name="FaultAddress">fault_address (GPA for TDP faults).</param>
/// <param name="ErrorCode">error_code (#NPF bits on AMD: bit 34 ENC = private access; EPT qualification on Intel).</param>
/// <param name="HasVcpuId">True for the >= 6.1 format.</param>
public readonly record struct KvmPageFault(uint VcpuId, ulong GuestRip, ulong FaultAddress, ulong ErrorCode, bool HasVcpuId);

/// <summary>kvmmmu:kvm_mmu_spte_requested: the host pfn and goal level of a fault.</summary>
/// <param name="Gfn">gfn.</param>
/// <param name="Pfn">pfn (the exact 4K pfn inside a huge page).</param>
/// <param name="Level">level: 1 = 4K, 2 = 2M, 3 = 1G.</param>
public readonly record struct KvmMmuSpteRequested(ulong Gfn, ulong Pfn, int Level);

/// <summary>kvmmmu:kvm_mmu_set_spte.</summary>
/// <param name="Gfn">gfn.</param>
/// <param name="Spte">spte.</param>
/// <param name="Sptep">sptep (physical address of the SPTE).</param>
/// <param name="Level">level.</param>
/// <param name="R">r (readable).</param>
/// <param name="X">x (executable).</param>
/// <param name="U">u: 1, 0, or -1 when the MMU has no user bit concept.</param>
public readonly record struct KvmMmuSetSpte(ulong Gfn, ulong Spte, ulong Sptep, int Level, bool R, bool X, int U);

/// <summary>kvmmmu:kvm_tdp_mmu_spte_changed.</summary>
/// <param name="Gfn">gfn.</param>
/// <param name="OldSpte">old_spte.</param>
/// <param name="NewSpte">new_spte.</param>
/// <param name="Level">level.</param>
/// <param name="AsId">as_id.</param>
public readonly record struct KvmTdpMmuSpteChanged(ulong Gfn, ulong OldSpte, ulong NewSpte, int Level, int AsId);

/// <summary>kvmmmu:kvm_mmu_split_huge_page.</summary>
/// <param name="Gfn">gfn.</param>
/// <param name="Spte">spte.</param>
/// <param name="Level">level.</param>
/// <param name="Errno">errno.</param>
public readonly record struct KvmMmuSplitHugePage(ulong Gfn, ulong Spte, int Level, int Errno);

/// <summary>kvmmmu:fast_page_fault.</summary>
/// <param name="VcpuId">vcpu_id.</param>
/// <param name="CrOrGpa">cr2_or_gpa.</param>
/// <param name="ErrorCode">error_code (u32 before 6.10, u64 after; from text the printed flag names are turned back into bits).</param>
/// <param name="Sptep">sptep.</param>
/// <param name="OldSpte">old_spte.</param>
/// <param name="NewSpte">new_spte.</param>
/// <param name="Ret">ret (RET_PF_*); from text only spurious/fixed are known, so 0.</param>
public readonly record struct FastPageFault(int VcpuId, ulong CrOrGpa, ulong ErrorCode, ulong Sptep, ulong OldSpte, ulong NewSpte, int Ret);

/// <summary>kvm:kvm_userspace_exit. From text, an error exit (KVM_EXIT_MEMORY_FAULT returns -EFAULT) gives errno only.</summary>
/// <param name="Reason">reason (KVM_EXIT_*).</param>
/// <param name="Errno">errno (negative on error exits, 0 otherwise).</param>
public readonly record struct KvmUserspaceExit(uint Reason, int Errno);

/// <summary>kvm:kvm_vm_set_mem_attributes: gfn range [Start, End) set to <paramref name="Attr"/> (bit 3 = private).</summary>
/// <param name="Start">start gfn.</param>
/// <param name="End">end gfn (exclusive).</param>
/// <param name="Attr">attr (KVM_MEMORY_ATTRIBUTE_PRIVATE = 8).</param>
public readonly record struct KvmVmSetMemAttributes(ulong Start, ulong End, ulong Attr);

/// <summary>kvm:kvm_rmp_fault (SEV-SNP).</summary>
/// <param name="VcpuId">vcpu_id.</param>
/// <param name="Gpa">gpa.</param>
/// <param name="Pfn">pfn.</param>
/// <param name="ErrorCode">error_code.</param>
/// <param name="RmpLevel">rmp_level (PG_LEVEL: 1 = 4K, 2 = 2M).</param>
/// <param name="PsmashRet">psmash_ret.</param>
public readonly record struct KvmRmpFault(uint VcpuId, ulong Gpa, ulong Pfn, ulong ErrorCode, int RmpLevel, int PsmashRet);

/// <summary>kvm:kvm_vmgexit_enter and kvm:kvm_vmgexit_exit.</summary>
/// <param name="VcpuId">vcpu_id.</param>
/// <param name="ExitReason">exit_reason (0x80000010 = page state change).</param>
/// <param name="Info1">info1.</param>
/// <param name="Info2">info2.</param>
/// <param name="IsExit">True for kvm_vmgexit_exit.</param>
public readonly record struct KvmVmgexit(uint VcpuId, ulong ExitReason, ulong Info1, ulong Info2, bool IsExit);

/// <summary>kvm:kvm_vmgexit_msr_protocol_enter.</summary>
/// <param name="VcpuId">vcpu_id.</param>
/// <param name="GhcbGpa">ghcb_gpa (the GHCB MSR value).</param>
public readonly record struct KvmVmgexitMsrProtocol(uint VcpuId, ulong GhcbGpa);

/// <summary>kvm:kvm_hypercall.</summary>
/// <param name="Nr">nr.</param>
/// <param name="A0">a0.</param>
/// <param name="A1">a1.</param>
/// <param name="A2">a2.</param>
/// <param name="A3">a3.</param>
public readonly record struct KvmHypercall(ulong Nr, ulong A0, ulong A1, ulong A2, ulong A3)
{
    /// <summary>KVM_HC_MAP_GPA_RANGE (include/uapi/linux/kvm_para.h).</summary>
    public const ulong MapGpaRangeNr = 12;

    /// <summary>True for KVM_HC_MAP_GPA_RANGE: a0 = gpa, a1 = pages, a2 = attributes.</summary>
    public bool IsMapGpaRange => Nr == MapGpaRangeNr;
}

/// <summary>kvm:kvm_unmap_hva_range: an MMU-notifier invalidation of host virtual addresses [Start, End).</summary>
/// <param name="Start">start hva.</param>
/// <param name="End">end hva.</param>
public readonly record struct KvmUnmapHvaRange(ulong Start, ulong End);

/// <summary>sched:sched_process_fork: <paramref name="ParentPid"/> created <paramref name="ChildPid"/> (a thread or a process).</summary>
/// <param name="ParentPid">parent_pid (the creating thread).</param>
/// <param name="ChildPid">child_pid (the new thread).</param>
public readonly record struct SchedProcessFork(int ParentPid, int ChildPid);

/// <summary>sched:sched_process_exec: <paramref name="Pid"/> now runs a new program.</summary>
/// <param name="Pid">pid.</param>
public readonly record struct SchedProcessExec(int Pid);
