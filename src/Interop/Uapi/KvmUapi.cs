using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Uapi;

/// <summary>ioctl numbers of the KVM uAPI that FastRmp models (include/uapi/linux/kvm.h, x86 _IOC encoding).</summary>
[CConstants]
public static class KvmIoctl
{
    /// <summary><c>_IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)</c>.</summary>
    public const uint KVM_SET_USER_MEMORY_REGION = 0x4020AE46;

    /// <summary><c>_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)</c>.</summary>
    public const uint KVM_SET_USER_MEMORY_REGION2 = 0x40A0AE49;

    /// <summary><c>_IOW(KVMIO, 0xd2, struct kvm_memory_attributes)</c>.</summary>
    public const uint KVM_SET_MEMORY_ATTRIBUTES = 0x4020AED2;

    /// <summary><c>_IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)</c>.</summary>
    public const uint KVM_CREATE_GUEST_MEMFD = 0xC040AED4;

    /// <summary><c>_IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)</c>.</summary>
    public const uint KVM_PRE_FAULT_MEMORY = 0xC040AED5;
}

/// <summary>Memslot flags: the uAPI bits and, above bit 15, the kernel-internal ones kept in <c>kvm_memory_slot.flags</c>.</summary>
[Flags]
public enum MemslotFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Track dirty pages (forces 4K mappings).</summary>
    [CName("KVM_MEM_LOG_DIRTY_PAGES")] LogDirtyPages = 1u << 0,

    /// <summary>Read-only slot (MMIO semantics on write).</summary>
    [CName("KVM_MEM_READONLY")] ReadOnly = 1u << 1,

    /// <summary>The slot has a guest_memfd binding for private memory (v2 ioctl only).</summary>
    [CName("KVM_MEM_GUEST_MEMFD")] GuestMemfd = 1u << 2,

    /// <summary>Kernel: the slot is being deleted or moved; faults retry.</summary>
    [CName("KVM_MEMSLOT_INVALID")] Invalid = 1u << 16,

    /// <summary>Kernel (6.18+): every fault on the slot, shared too, goes through gmem.</summary>
    [CName("KVM_MEMSLOT_GMEM_ONLY")] GmemOnly = 1u << 17,
}

/// <summary>Memory attributes (KVM_SET_MEMORY_ATTRIBUTES).</summary>
[Flags]
public enum MemoryAttributes : ulong
{
    /// <summary>Shared.</summary>
    None = 0,

    /// <summary>The gfn is private (backed by guest_memfd).</summary>
    [CName("KVM_MEMORY_ATTRIBUTE_PRIVATE")] Private = 1UL << 3,
}

/// <summary>guest_memfd creation flags.</summary>
[Flags]
public enum GuestMemfdFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>6.18+: the file may be mmap'ed.</summary>
    [CName("GUEST_MEMFD_FLAG_MMAP")] Mmap = 1UL << 0,

    /// <summary>6.18+: memory starts shared (only with Mmap).</summary>
    [CName("GUEST_MEMFD_FLAG_INIT_SHARED")] InitShared = 1UL << 1,
}

/// <summary>The <c>kvm_run.exit_reason</c> values FastRmp models.</summary>
public enum KvmExitReason : uint
{
    /// <summary>A hypercall forwarded to userspace (e.g. MAP_GPA_RANGE for an SNP page-state change).</summary>
    [CName("KVM_EXIT_HYPERCALL")] Hypercall = 3,

    /// <summary>A system event (SEV termination is type 6).</summary>
    [CName("KVM_EXIT_SYSTEM_EVENT")] SystemEvent = 24,

    /// <summary>A private/shared mismatch or a guest_memfd failure (6.8+).</summary>
    [CName("KVM_EXIT_MEMORY_FAULT")] MemoryFault = 39,

    /// <summary>A TDX exit.</summary>
    [CName("KVM_EXIT_TDX")] Tdx = 40,
}

/// <summary>x86 VM types (KVM_CREATE_VM argument).</summary>
public enum KvmVmType : byte
{
    /// <summary>A normal VM.</summary>
    [CName("KVM_X86_DEFAULT_VM")] Default = 0,

    /// <summary>Software-protected VM: guest_memfd without hardware protection (testing).</summary>
    [CName("KVM_X86_SW_PROTECTED_VM")] SwProtected = 1,

    /// <summary>SEV.</summary>
    [CName("KVM_X86_SEV_VM")] Sev = 2,

    /// <summary>SEV-ES.</summary>
    [CName("KVM_X86_SEV_ES_VM")] SevEs = 3,

    /// <summary>SEV-SNP.</summary>
    [CName("KVM_X86_SNP_VM")] Snp = 4,

    /// <summary>TDX.</summary>
    [CName("KVM_X86_TDX_VM")] Tdx = 5,
}

/// <summary>Other uAPI constants: capabilities, exit flags, the MAP_GPA_RANGE hypercall. Constants only: thread-safe.</summary>
[CConstants]
public static class KvmUapi
{
    /// <summary><c>kvm_run.system_event.type</c> for SEV termination.</summary>
    public const uint KVM_SYSTEM_EVENT_SEV_TERM = 6;

    /// <summary><c>kvm_run.memory_fault.flags</c>: the access was private.</summary>
    public const ulong KVM_MEMORY_EXIT_FLAG_PRIVATE = 1UL << 3;

    /// <summary>The hypercall that SNP page-state changes and TDX MapGPA are forwarded as.</summary>
    public const ulong KVM_HC_MAP_GPA_RANGE = 12;

    /// <summary>MAP_GPA_RANGE attribute: 4 KiB pages.</summary>
    public const ulong KVM_MAP_GPA_RANGE_PAGE_SZ_4K = 0;

    /// <summary>MAP_GPA_RANGE attribute: 2 MiB pages.</summary>
    public const ulong KVM_MAP_GPA_RANGE_PAGE_SZ_2M = 1UL << 0;

    /// <summary>MAP_GPA_RANGE attribute: 1 GiB pages.</summary>
    public const ulong KVM_MAP_GPA_RANGE_PAGE_SZ_1G = 1UL << 1;

    /// <summary>MAP_GPA_RANGE attribute: to private.</summary>
    public const ulong KVM_MAP_GPA_RANGE_ENCRYPTED = 1UL << 4;

    /// <summary>MAP_GPA_RANGE attribute: to shared.</summary>
    public const ulong KVM_MAP_GPA_RANGE_DECRYPTED = 0;

    /// <summary>Capability: KVM_SET_USER_MEMORY_REGION2.</summary>
    public const uint KVM_CAP_USER_MEMORY2 = 231;

    /// <summary>Capability: KVM_EXIT_MEMORY_FAULT information.</summary>
    public const uint KVM_CAP_MEMORY_FAULT_INFO = 232;

    /// <summary>Capability: memory attributes (returns the supported mask).</summary>
    public const uint KVM_CAP_MEMORY_ATTRIBUTES = 233;

    /// <summary>Capability: guest_memfd.</summary>
    public const uint KVM_CAP_GUEST_MEMFD = 234;

    /// <summary>Capability: supported VM types.</summary>
    public const uint KVM_CAP_VM_TYPES = 235;

    /// <summary>Capability: KVM_PRE_FAULT_MEMORY.</summary>
    public const uint KVM_CAP_PRE_FAULT_MEMORY = 236;

    /// <summary>Capability: supported guest_memfd flags.</summary>
    public const uint KVM_CAP_GUEST_MEMFD_FLAGS = 244;
}
