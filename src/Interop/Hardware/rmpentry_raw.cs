using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>
/// The raw 16-byte RMP entry as it sits in memory, one per 4 KiB host page (AMD's non-architectural Zen3/Zen4
/// layout; <c>struct rmpentry_raw</c> in arch/x86/virt/svm/sev.c from 6.14 (torvalds v6.14, line 57),
/// <c>struct rmpentry</c> before 6.14; kernel-domain.md 4.1).
/// </summary>
/// <remarks>
/// <code>
/// lo:  63    62        61    60 .. 51  50 .. 12          11 .. 3  2          1         0
///      rsvd  validated vmsa  asid(10)  gpa >> 12 (39)    rsvd     immutable  pagesize  assigned
/// hi:  VMPL permission masks (undocumented by the kernel)
/// </code>
/// Setters reject values wider than the bitfield instead of truncating as C would.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 16, Pack = 1)]
public struct rmpentry_raw : ICMirror<rmpentry_raw>
{
    /// <summary>Bit of <c>assigned</c> in <see cref="lo"/>.</summary>
    public const int AssignedBit = 0;

    /// <summary>Bit of <c>pagesize</c> in <see cref="lo"/>.</summary>
    public const int PageSizeBit = 1;

    /// <summary>Bit of <c>immutable</c> in <see cref="lo"/>.</summary>
    public const int ImmutableBit = 2;

    /// <summary>First bit of <c>gpa</c> in <see cref="lo"/>.</summary>
    public const int GpaShift = 12;

    /// <summary>Width of <c>gpa</c>.</summary>
    public const int GpaBits = 39;

    /// <summary>First bit of <c>asid</c> in <see cref="lo"/>.</summary>
    public const int AsidShift = GpaShift + GpaBits;

    /// <summary>Width of <c>asid</c>.</summary>
    public const int AsidBits = 10;

    /// <summary>Bit of <c>vmsa</c> in <see cref="lo"/>.</summary>
    public const int VmsaBit = AsidShift + AsidBits;

    /// <summary>Bit of <c>validated</c> in <see cref="lo"/>.</summary>
    public const int ValidatedBit = VmsaBit + 1;

    /// <summary>The largest <c>gpa</c> (frame) value.</summary>
    public const ulong GpaMax = (1UL << GpaBits) - 1;

    /// <summary>The largest <c>asid</c> value.</summary>
    public const uint AsidMax = (1u << AsidBits) - 1;

    /// <summary>The low qword: the bitfields.</summary>
    [FieldOffset(0)] public ulong lo;

    /// <summary>The high qword: VMPL permissions.</summary>
    [FieldOffset(8)] public ulong hi;

    /// <summary>The page is owned by a guest or by the firmware.</summary>
    public bool assigned
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo & (1UL << AssignedBit)) != 0;
        set => lo = SetBit(lo, AssignedBit, value);
    }

    /// <summary>The entry covers 2 MiB (<see cref="RmpPageSize"/>): 0 = 4K, 1 = 2M.</summary>
    public bool pagesize
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo & (1UL << PageSizeBit)) != 0;
        set => lo = SetBit(lo, PageSizeBit, value);
    }

    /// <summary>Only the firmware may change the entry.</summary>
    public bool immutable
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo & (1UL << ImmutableBit)) != 0;
        set => lo = SetBit(lo, ImmutableBit, value);
    }

    /// <summary>The guest frame the page is assigned to (the guest physical address &gt;&gt; 12), 39 bits.</summary>
    public ulong gpa
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo >> GpaShift) & GpaMax;
        set
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, GpaMax);
            lo = (lo & ~(GpaMax << GpaShift)) | (value << GpaShift);
        }
    }

    /// <summary>The owning guest's ASID, 10 bits.</summary>
    public uint asid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (uint)(lo >> AsidShift) & AsidMax;
        set
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, AsidMax);
            lo = (lo & ~((ulong)AsidMax << AsidShift)) | ((ulong)value << AsidShift);
        }
    }

    /// <summary>The page is a VMSA.</summary>
    public bool vmsa
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo & (1UL << VmsaBit)) != 0;
        set => lo = SetBit(lo, VmsaBit, value);
    }

    /// <summary>The guest validated the page with PVALIDATE.</summary>
    public bool validated
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => (lo & (1UL << ValidatedBit)) != 0;
        set => lo = SetBit(lo, ValidatedBit, value);
    }

    /// <summary>The guest frame as a typed value.</summary>
    public readonly gfn_t Gfn => new(gpa);

    /// <summary>The page size as an enum.</summary>
    public readonly RmpPageSize Size => pagesize ? RmpPageSize.Size2M : RmpPageSize.Size4K;

    /// <summary>The entry as messages show it, e.g. <c>assigned to ASID 1 at gpa 0x200000, 4K, validated</c>.</summary>
    public override readonly string ToString()
        => (assigned ? $"assigned to ASID {asid} at gpa 0x{gpa << GpaShift:x}" : "hypervisor-owned")
            + (pagesize ? ", 2M" : ", 4K") + (validated ? ", validated" : "") + (immutable ? ", immutable" : "") + (vmsa ? ", VMSA" : "");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SetBit(ulong word, int bit, bool value)
        => value ? word | (1UL << bit) : word & ~(1UL << bit);

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        rmpentry_raw s = default;
        return new MirrorLayoutBuilder<rmpentry_raw>(ref s, "rmpentry_raw", "rmpentry_raw", "arch/x86/virt/svm/sev.c, torvalds v6.14, line 57 (Zen3/Zen4 PPR layout; struct rmpentry before 6.14)")
            .Union(ref s.lo, "lo", "u64")
            .Field(ref s.hi, "hi", "u64")
            .Bits("assigned", AssignedBit, 1, static (in e) => e.assigned ? 1UL : 0, static (ref e, v) => e.assigned = v != 0)
            .Bits("pagesize", PageSizeBit, 1, static (in e) => e.pagesize ? 1UL : 0, static (ref e, v) => e.pagesize = v != 0)
            .Bits("immutable", ImmutableBit, 1, static (in e) => e.immutable ? 1UL : 0, static (ref e, v) => e.immutable = v != 0)
            .Bits("gpa", GpaShift, GpaBits, static (in e) => e.gpa, static (ref e, v) => e.gpa = v)
            .Bits("asid", AsidShift, AsidBits, static (in e) => e.asid, static (ref e, v) => e.asid = (uint)v)
            .Bits("vmsa", VmsaBit, 1, static (in e) => e.vmsa ? 1UL : 0, static (ref e, v) => e.vmsa = v != 0)
            .Bits("validated", ValidatedBit, 1, static (in e) => e.validated ? 1UL : 0, static (ref e, v) => e.validated = v != 0)
            .Build();
    }
}
