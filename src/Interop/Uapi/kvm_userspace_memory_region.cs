using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Uapi;

/// <summary>
/// <c>struct kvm_userspace_memory_region</c>, the argument of KVM_SET_USER_MEMORY_REGION (include/uapi/linux/kvm.h):
/// 32 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct kvm_userspace_memory_region : ICMirror<kvm_userspace_memory_region>
{
    /// <summary>Address space in bits 31:16, slot id in bits 15:0.</summary>
    [FieldOffset(0)] public uint slot;

    /// <summary><see cref="MemslotFlags"/>; v1 accepts only LOG_DIRTY_PAGES and READONLY.</summary>
    [FieldOffset(4)] public uint flags;

    /// <summary>First guest physical address.</summary>
    [FieldOffset(8)] public ulong guest_phys_addr;

    /// <summary>Size in bytes; 0 deletes the slot.</summary>
    [FieldOffset(16)] public ulong memory_size;

    /// <summary>Start of the VMM mapping.</summary>
    [FieldOffset(24)] public ulong userspace_addr;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_userspace_memory_region s = default;
        return new MirrorLayoutBuilder<kvm_userspace_memory_region>(ref s, "kvm_userspace_memory_region", "kvm_userspace_memory_region", "include/uapi/linux/kvm.h, torvalds v6.8, line 20")
            .Field(ref s.slot, "slot", "__u32")
            .Field(ref s.flags, "flags", "__u32")
            .Field(ref s.guest_phys_addr, "guest_phys_addr", "__u64")
            .Field(ref s.memory_size, "memory_size", "__u64")
            .Field(ref s.userspace_addr, "userspace_addr", "__u64")
            .Build();
    }
}

/// <summary>
/// <c>struct kvm_userspace_memory_region2</c>, the argument of KVM_SET_USER_MEMORY_REGION2 (6.8+): 160 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 160)]
public struct kvm_userspace_memory_region2 : ICMirror<kvm_userspace_memory_region2>
{
    /// <summary>Address space in bits 31:16, slot id in bits 15:0.</summary>
    [FieldOffset(0)] public uint slot;

    /// <summary><see cref="MemslotFlags"/>.</summary>
    [FieldOffset(4)] public uint flags;

    /// <summary>First guest physical address.</summary>
    [FieldOffset(8)] public ulong guest_phys_addr;

    /// <summary>Size in bytes; 0 deletes the slot.</summary>
    [FieldOffset(16)] public ulong memory_size;

    /// <summary>Start of the VMM mapping (shared memory).</summary>
    [FieldOffset(24)] public ulong userspace_addr;

    /// <summary>Byte offset of the slot in the guest_memfd.</summary>
    [FieldOffset(32)] public ulong guest_memfd_offset;

    /// <summary>The guest_memfd file descriptor (with KVM_MEM_GUEST_MEMFD).</summary>
    [FieldOffset(40)] public uint guest_memfd;

    /// <summary>Must be zero.</summary>
    [FieldOffset(44)] public uint pad1;

    /// <summary>Must be zero.</summary>
    [FieldOffset(48)] public FixedArray14<ulong> pad2;

    /// <summary>The address space id (bits 31:16 of <see cref="slot"/>).</summary>
    public readonly ushort AddressSpace => (ushort)(slot >> 16);

    /// <summary>The slot id (bits 15:0 of <see cref="slot"/>).</summary>
    public readonly ushort SlotId => (ushort)slot;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_userspace_memory_region2 s = default;
        return new MirrorLayoutBuilder<kvm_userspace_memory_region2>(ref s, "kvm_userspace_memory_region2", "kvm_userspace_memory_region2", "include/uapi/linux/kvm.h, torvalds v6.8, line 29 (6.8 and later)")
            .Field(ref s.slot, "slot", "__u32")
            .Field(ref s.flags, "flags", "__u32")
            .Field(ref s.guest_phys_addr, "guest_phys_addr", "__u64")
            .Field(ref s.memory_size, "memory_size", "__u64")
            .Field(ref s.userspace_addr, "userspace_addr", "__u64")
            .Field(ref s.guest_memfd_offset, "guest_memfd_offset", "__u64")
            .Field(ref s.guest_memfd, "guest_memfd", "__u32")
            .Field(ref s.pad1, "pad1", "__u32")
            .Field(ref s.pad2, "pad2", "__u64[14]")
            .Build();
    }
}
