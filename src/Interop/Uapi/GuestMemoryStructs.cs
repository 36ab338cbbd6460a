using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Uapi;

/// <summary><c>struct kvm_memory_attributes</c>, the argument of KVM_SET_MEMORY_ATTRIBUTES (6.8+): 32 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct kvm_memory_attributes : ICMirror<kvm_memory_attributes>
{
    /// <summary>First guest physical address (page-aligned).</summary>
    [FieldOffset(0)] public ulong address;

    /// <summary>Size in bytes (page-aligned, non-zero).</summary>
    [FieldOffset(8)] public ulong size;

    /// <summary><see cref="MemoryAttributes"/> to set on the whole range.</summary>
    [FieldOffset(16)] public ulong attributes;

    /// <summary>Must be zero.</summary>
    [FieldOffset(24)] public ulong flags;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_memory_attributes s = default;
        return new MirrorLayoutBuilder<kvm_memory_attributes>(ref s, "kvm_memory_attributes", "kvm_memory_attributes", "include/uapi/linux/kvm.h, torvalds v6.8, line 2213 (6.8 and later)")
            .Field(ref s.address, "address", "__u64")
            .Field(ref s.size, "size", "__u64")
            .Field(ref s.attributes, "attributes", "__u64")
            .Field(ref s.flags, "flags", "__u64")
            .Build();
    }
}

/// <summary><c>struct kvm_create_guest_memfd</c>, the argument of KVM_CREATE_GUEST_MEMFD (6.8+): 64 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct kvm_create_guest_memfd : ICMirror<kvm_create_guest_memfd>
{
    /// <summary>File size in bytes (page-aligned, non-zero).</summary>
    [FieldOffset(0)] public ulong size;

    /// <summary><see cref="GuestMemfdFlags"/>.</summary>
    [FieldOffset(8)] public ulong flags;

    /// <summary>Must be zero.</summary>
    [FieldOffset(16)] public FixedArray6<ulong> reserved;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_create_guest_memfd s = default;
        return new MirrorLayoutBuilder<kvm_create_guest_memfd>(ref s, "kvm_create_guest_memfd", "kvm_create_guest_memfd", "include/uapi/linux/kvm.h, torvalds v6.8, line 2224 (6.8 and later)")
            .Field(ref s.size, "size", "__u64")
            .Field(ref s.flags, "flags", "__u64")
            .Field(ref s.reserved, "reserved", "__u64[6]")
            .Build();
    }
}

/// <summary><c>struct kvm_pre_fault_memory</c>, the argument of KVM_PRE_FAULT_MEMORY (6.11+): 64 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct kvm_pre_fault_memory : ICMirror<kvm_pre_fault_memory>
{
    /// <summary>First guest physical address; advanced by the kernel as it goes.</summary>
    [FieldOffset(0)] public ulong gpa;

    /// <summary>Bytes left to map.</summary>
    [FieldOffset(8)] public ulong size;

    /// <summary>Must be zero.</summary>
    [FieldOffset(16)] public ulong flags;

    /// <summary>Must be zero.</summary>
    [FieldOffset(24)] public FixedArray5<ulong> padding;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_pre_fault_memory s = default;
        return new MirrorLayoutBuilder<kvm_pre_fault_memory>(ref s, "kvm_pre_fault_memory", "kvm_pre_fault_memory", "include/uapi/linux/kvm.h, torvalds v6.12, line 1569 (6.11 and later)")
            .Field(ref s.gpa, "gpa", "__u64")
            .Field(ref s.size, "size", "__u64")
            .Field(ref s.flags, "flags", "__u64")
            .Field(ref s.padding, "padding", "__u64[5]")
            .Build();
    }
}

/// <summary>
/// <c>struct kvm_memory_attributes2</c>, the argument of KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (in-place
/// conversion; not in a release yet): 128 bytes. Layout from the posted series "guest_memfd: In-place conversion
/// support" (include/uapi/linux/kvm.h, RFC v5 11/53 of 2026-04-28, which turns reserved[12] into error_offset and
/// reserved[11]); not yet checked against a compiled header, since no released kernel has it.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
public struct kvm_memory_attributes2
{
    /// <summary>First byte of the range in the guest_memfd file (page-aligned).</summary>
    [FieldOffset(0)] public ulong offset;

    /// <summary>Size in bytes (page-aligned, non-zero).</summary>
    [FieldOffset(8)] public ulong size;

    /// <summary><see cref="MemoryAttributes"/> to set on the whole range.</summary>
    [FieldOffset(16)] public ulong attributes;

    /// <summary>Must be zero (the content-mode flags of later revisions are not modelled).</summary>
    [FieldOffset(24)] public ulong flags;

    /// <summary>Out: on failure, the file offset of the page that stopped the conversion.</summary>
    [FieldOffset(32)] public ulong error_offset;

    /// <summary>Must be zero.</summary>
    [FieldOffset(40)] public FixedArray11<ulong> reserved;
}
