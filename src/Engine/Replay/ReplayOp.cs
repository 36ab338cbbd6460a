using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Replay;

/// <summary>What a <see cref="ReplayOp"/> asks the model to do, or what it reports the host kernel did.</summary>
public enum ReplayOpKind : byte
{
    /// <summary>A memslot set or deleted (QEMU <c>kvm_set_user_memory</c> with ret 0, or the memslot file).</summary>
    SetMemslot,

    /// <summary>KVM_SET_MEMORY_ATTRIBUTES as the kernel traced it (<c>kvm_vm_set_mem_attributes</c>).</summary>
    SetAttributes,

    /// <summary>QEMU's conversion (<c>kvm_convert_memory</c>): attributes, and to shared the guest_memfd discard.</summary>
    Convert,

    /// <summary>QEMU's SNP_LAUNCH_UPDATE of a range (<c>kvm_sev_snp_launch_update</c>).</summary>
    LaunchUpdate,

    /// <summary>A guest access that took a nested page fault (<c>kvm_page_fault</c> without the RMP bit).</summary>
    Fault,

    /// <summary>The host's SEV-SNP RMP fault handler ran (<c>kvm_rmp_fault</c>): an observation to compare with.</summary>
    RmpFault,

    /// <summary>
    /// KVM exited to userspace with KVM_EXIT_HYPERCALL (<c>kvm_userspace_exit</c> reason 3): for an SNP guest, the
    /// only hypercall KVM forwards is KVM_HC_MAP_GPA_RANGE, the guest's page-state change (kernel-domain.md 4.7).
    /// </summary>
    HypercallExit,
}

/// <summary>How the traced kernel ended a fault, when the trace shows it.</summary>
public enum TracedOutcome : byte
{
    /// <summary>The trace does not say (no <c>kvm_mmu_spte_requested</c> or exit followed on that CPU).</summary>
    Unknown,

    /// <summary>The kernel mapped the gfn (<c>kvm_mmu_spte_requested</c> with its goal level and pfn).</summary>
    Mapped,

    /// <summary>The kernel exited to userspace with KVM_EXIT_MEMORY_FAULT.</summary>
    MemoryFaultExit,
}

/// <summary>
/// One step of a replay, decoded from the trace once and applied to every policy's model (<see cref="TraceOps"/>).
/// </summary>
/// <remarks>Blittable, so a replay of several policies costs one decode.</remarks>
public struct ReplayOp
{
    /// <summary>What to do.</summary>
    public ReplayOpKind Kind;

    /// <summary>The traced outcome of a <see cref="ReplayOpKind.Fault"/>.</summary>
    public TracedOutcome Outcome;

    /// <summary>The level the traced kernel chose (PG_LEVEL: 1 4K, 2 2M, 3 1G) for <see cref="TracedOutcome.Mapped"/>, or the RMP level of an RMP fault.</summary>
    public byte Level;

    /// <summary>True for conversions and attribute changes to private.</summary>
    public bool ToPrivate;

    /// <summary>The CPU the event was recorded on.</summary>
    public int Cpu;

    /// <summary>The thread that recorded it (a vCPU thread for faults).</summary>
    public int Pid;

    /// <summary>
    /// The process (QEMU, one per VM) the thread belongs to: the record's tgid when the input has it, else what the
    /// trace's sched_process_fork/exec events tell (<see cref="TraceOps"/>), else 0 (not known: one VM).
    /// </summary>
    public int Process;

    /// <summary>The event's timestamp (ns).</summary>
    public ulong Timestamp;

    /// <summary>Guest physical address (faults, conversions, attribute ranges, launch ranges).</summary>
    public ulong Gpa;

    /// <summary>Bytes (conversions, attribute ranges, launch ranges).</summary>
    public ulong Size;

    /// <summary>The #NPF error code of a fault.</summary>
    public ulong ErrorCode;

    /// <summary>The host pfn the traced kernel mapped (<see cref="HasPfn"/>), or the pfn of an RMP fault.</summary>
    public ulong Pfn;

    /// <summary>True when <see cref="Pfn"/> is known.</summary>
    public bool HasPfn;

    /// <summary>The fault's <c>vcpu_id</c> as traced (0 when the event did not carry it).</summary>
    public uint VcpuId;

    private uint _slot;
    private uint _slotFlags;
    private uint _guestMemfd;
    private ulong _userspaceAddr;
    private ulong _guestMemfdOffset;

    /// <summary>The memslot request of <see cref="ReplayOpKind.SetMemslot"/> (<c>slot</c> holds <c>as_id &lt;&lt; 16 | id</c>).</summary>
    /// <remarks>
    /// Kept as its fields (the guest range in <see cref="Gpa"/> and <see cref="Size"/>): the uAPI struct is 160 bytes,
    /// mostly padding, and every op is copied a few times on its way from the trace to the models.
    /// </remarks>
    public kvm_userspace_memory_region2 Region
    {
        readonly get => new()
        {
            slot = _slot,
            flags = _slotFlags,
            guest_phys_addr = Gpa,
            memory_size = Size,
            userspace_addr = _userspaceAddr,
            guest_memfd_offset = _guestMemfdOffset,
            guest_memfd = _guestMemfd,
        };
        set
        {
            _slot = value.slot;
            _slotFlags = value.flags;
            Gpa = value.guest_phys_addr;
            Size = value.memory_size;
            _userspaceAddr = value.userspace_addr;
            _guestMemfdOffset = value.guest_memfd_offset;
            _guestMemfd = value.guest_memfd;
        }
    }
}
