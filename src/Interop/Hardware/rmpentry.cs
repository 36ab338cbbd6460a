using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>
/// The architectural RMP entry format that RMPREAD returns (<c>struct rmpentry</c>, arch/x86/virt/svm/sev.c, torvalds
/// v6.14, line 37; 6.14 and later; packed, 16 bytes; kernel-domain.md 4.1).
/// </summary>
/// <remarks>
/// <code>
/// 0: gpa (u64, full address)   8: bit 0 assigned   9: bit 0 pagesize, bit 1 hpage_region_status
/// 10: bit 0 immutable          11: rsvd4           12: asid (u32)
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 16, Pack = 1)]
public struct rmpentry : ICMirror<rmpentry>
{
    /// <summary>The assigned guest physical address (not shifted).</summary>
    [FieldOffset(0)] public ulong gpa;

    [FieldOffset(8)] private byte _assignedByte;
    [FieldOffset(9)] private byte _sizeByte;
    [FieldOffset(10)] private byte _immutableByte;

    /// <summary>Reserved.</summary>
    [FieldOffset(11)] public byte rsvd4;

    /// <summary>The owning ASID.</summary>
    [FieldOffset(12)] public uint asid;

    /// <summary>Bit 0 of byte 8.</summary>
    public bool assigned
    {
        readonly get => (_assignedByte & 1) != 0;
        set => _assignedByte = (byte)((_assignedByte & ~1) | (value ? 1 : 0));
    }

    /// <summary>Bit 0 of byte 9: 0 = 4K, 1 = 2M.</summary>
    public bool pagesize
    {
        readonly get => (_sizeByte & 1) != 0;
        set => _sizeByte = (byte)((_sizeByte & ~1) | (value ? 1 : 0));
    }

    /// <summary>Bit 1 of byte 9 (RMPREAD only): some 4K entry inside this 2M region is assigned.</summary>
    public bool hpage_region_status
    {
        readonly get => (_sizeByte & 2) != 0;
        set => _sizeByte = (byte)((_sizeByte & ~2) | (value ? 2 : 0));
    }

    /// <summary>Bit 0 of byte 10.</summary>
    public bool immutable
    {
        readonly get => (_immutableByte & 1) != 0;
        set => _immutableByte = (byte)((_immutableByte & ~1) | (value ? 1 : 0));
    }

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        rmpentry s = default;
        return new MirrorLayoutBuilder<rmpentry>(ref s, "rmpentry", "rmpentry", "arch/x86/virt/svm/sev.c, torvalds v6.14, line 37 (RMPREAD format, 6.14 and later)")
            .Field(ref s.gpa, "gpa", "u64")
            .Field(ref s.rsvd4, "rsvd4", "u8")
            .Field(ref s.asid, "asid", "u32")
            .Bits("assigned", 64, 1, static (in e) => e.assigned ? 1UL : 0, static (ref e, v) => e.assigned = v != 0)
            .Bits("pagesize", 72, 1, static (in e) => e.pagesize ? 1UL : 0, static (ref e, v) => e.pagesize = v != 0)
            .Bits("hpage_region_status", 73, 1, static (in e) => e.hpage_region_status ? 1UL : 0, static (ref e, v) => e.hpage_region_status = v != 0)
            .Bits("immutable", 80, 1, static (in e) => e.immutable ? 1UL : 0, static (ref e, v) => e.immutable = v != 0)
            .Build();
    }
}

/// <summary>
/// <c>struct rmp_state</c> (arch/x86/include/asm/sev.h, packed, 16 bytes): the new state RMPUPDATE writes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16, Pack = 1)]
public struct rmp_state : ICMirror<rmp_state>
{
    /// <summary>Guest physical address (not shifted).</summary>
    [FieldOffset(0)] public ulong gpa;

    /// <summary>1 to assign the page to a guest or the firmware.</summary>
    [FieldOffset(8)] public byte assigned;

    /// <summary><see cref="RmpPageSize"/>.</summary>
    [FieldOffset(9)] public byte pagesize;

    /// <summary>1 for firmware-owned or launch pages.</summary>
    [FieldOffset(10)] public byte immutable;

    /// <summary>Reserved.</summary>
    [FieldOffset(11)] public byte rsvd;

    /// <summary>The owning ASID.</summary>
    [FieldOffset(12)] public uint asid;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        rmp_state s = default;
        return new MirrorLayoutBuilder<rmp_state>(ref s, "rmp_state", "rmp_state", "arch/x86/include/asm/sev.h, torvalds v6.14, line 104")
            .Field(ref s.gpa, "gpa", "u64")
            .Field(ref s.assigned, "assigned", "u8")
            .Field(ref s.pagesize, "pagesize", "u8")
            .Field(ref s.immutable, "immutable", "u8")
            .Field(ref s.rsvd, "rsvd", "u8")
            .Field(ref s.asid, "asid", "u32")
            .Build();
    }
}
