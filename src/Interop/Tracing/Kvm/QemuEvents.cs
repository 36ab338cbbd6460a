namespace FastRmp.Interop.Tracing.Kvm;

// QEMU trace events (accel/kvm/trace-events, target/i386 sev) as written by QEMU's ftrace backend into
// trace_marker: "<name> <text>" (traces.md 1.5, kernel-domain.md 6.5). Parsed from the text in both binary
// (ftrace:print buf) and text input.

/// <summary>QEMU kvm_set_user_memory: a memslot set (size 0 deletes it).</summary>
/// <param name="AddressSpace">AddrSpace#.</param>
/// <param name="Slot">Slot#.</param>
/// <param name="Flags">flags (1 dirty-log, 2 readonly, 4 guest_memfd).</param>
/// <param name="Gpa">gpa.</param>
/// <param name="Size">size.</param>
/// <param name="UserAddress">ua.</param>
/// <param name="GuestMemfd">guest_memfd fd (also spelled restricted_fd / gmem_fd by earlier patch series); -1 when absent.</param>
/// <param name="GuestMemfdOffset">guest_memfd_offset.</param>
/// <param name="Ret">ret.</param>
public readonly record struct QemuSetUserMemory(int AddressSpace, int Slot, uint Flags, ulong Gpa, ulong Size, ulong UserAddress, int GuestMemfd, ulong GuestMemfdOffset, int Ret)
{
    /// <summary>
    /// The KVM_SET_USER_MEMORY_REGION2 request QEMU made: <c>slot</c> is the address space in bits 16 and up over the
    /// slot id, and a guest_memfd of -1 is kept as the __u32 QEMU passes (0xffffffff).
    /// </summary>
    public Uapi.kvm_userspace_memory_region2 ToRegion() => new()
    {
        slot = ((uint)AddressSpace << 16) | (uint)Slot,
        flags = Flags,
        guest_phys_addr = Gpa,
        memory_size = Size,
        userspace_addr = UserAddress,
        guest_memfd = (uint)GuestMemfd,
        guest_memfd_offset = GuestMemfdOffset,
    };
}

/// <summary>QEMU kvm_convert_memory: a private/shared conversion request.</summary>
/// <param name="Start">start gpa.</param>
/// <param name="Size">size.</param>
/// <param name="ToPrivate">True for to_private, false for to_shared.</param>
public readonly record struct QemuConvertMemory(ulong Start, ulong Size, bool ToPrivate);

/// <summary>QEMU kvm_memory_fault: KVM_EXIT_MEMORY_FAULT seen by QEMU.</summary>
/// <param name="Start">start gpa.</param>
/// <param name="Size">size.</param>
/// <param name="Flags">flags (KVM_MEMORY_EXIT_FLAG_PRIVATE = 8).</param>
public readonly record struct QemuMemoryFault(ulong Start, ulong Size, ulong Flags);

/// <summary>QEMU kvm_hc_map_gpa_range: the MAP_GPA_RANGE hypercall handled in userspace.</summary>
/// <param name="Gpa">gpa.</param>
/// <param name="Size">size.</param>
/// <param name="Attributes">attributes.</param>
/// <param name="Flags">flags.</param>
public readonly record struct QemuHcMapGpaRange(ulong Gpa, ulong Size, ulong Attributes, ulong Flags);

/// <summary>QEMU kvm_sev_snp_launch_update: an encrypted launch range.</summary>
/// <param name="Source">src (host address).</param>
/// <param name="Gpa">gpa.</param>
/// <param name="Length">len.</param>
/// <param name="PageType">The printed page type (<c>Normal page</c>, <c>Zero page</c>, <c>Secrets page</c>, <c>Cpuid page</c>).</param>
public readonly record struct QemuSevSnpLaunchUpdate(ulong Source, ulong Gpa, ulong Length, string PageType);
