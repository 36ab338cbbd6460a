namespace FastRmp.Engine.Replay;

/// <summary>
/// Receives what the model did while replaying, event by event, in the shape of the kernel's tracepoints, so the
/// simulated run can be written as a trace and read next to the real one (<c>fastrmp replay --export-trace</c>).
/// </summary>
public interface IReplayRecorder
{
    /// <summary>A guest access of vCPU <paramref name="vcpuId"/> took a nested page fault (<c>kvm_page_fault</c>).</summary>
    void Fault(ulong timestamp, int cpu, int pid, uint vcpuId, ulong gpa, ulong errorCode);

    /// <summary>The model mapped the gfn (<c>kvm_mmu_spte_requested</c>: the exact 4K pfn and the goal level).</summary>
    void Mapped(ulong timestamp, int cpu, int pid, ulong gfn, ulong pfn, int level);

    /// <summary>The model's access ended in KVM_EXIT_MEMORY_FAULT (<c>kvm_userspace_exit</c>).</summary>
    void MemoryFaultExit(ulong timestamp, int cpu, int pid);

    /// <summary>The model took an RMP #NPF and ran the RMP fault handler (<c>kvm_rmp_fault</c>).</summary>
    void RmpFault(ulong timestamp, int cpu, int pid, ulong gpa, ulong pfn, int rmpLevel);

    /// <summary>Memory attributes changed (<c>kvm_vm_set_mem_attributes</c>: gfns [start, end)).</summary>
    void Attributes(ulong timestamp, int cpu, int pid, ulong startGfn, ulong endGfn, bool isPrivate);

    /// <summary>QEMU converted [gpa, gpa + size) (<c>kvm_convert_memory</c>; to shared it also discards the private pages).</summary>
    void Convert(ulong timestamp, int cpu, int pid, ulong gpa, ulong size, bool toPrivate);

    /// <summary>QEMU's SNP_LAUNCH_UPDATE of [gpa, gpa + length) (<c>kvm_sev_snp_launch_update</c>).</summary>
    void LaunchUpdate(ulong timestamp, int cpu, int pid, ulong gpa, ulong length);
}
