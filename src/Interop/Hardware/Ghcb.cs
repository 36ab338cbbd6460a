using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>Page-state change operation (GHCB MSR protocol and <c>psc_entry.operation</c>).</summary>
public enum PscOperation : byte
{
    /// <summary>Make the page private.</summary>
    [CName("SNP_PAGE_STATE_PRIVATE")] Private = 1,

    /// <summary>Make the page shared.</summary>
    [CName("SNP_PAGE_STATE_SHARED")] Shared = 2,
}

/// <summary>GHCB page-state-change constants (arch/x86/include/asm/sev-common.h; kernel-domain.md 4.7).</summary>
[CConstants]
public static class Ghcb
{
    /// <summary>GHCB MSR protocol: page-state change request.</summary>
    public const uint GHCB_MSR_PSC_REQ = 0x014;

    /// <summary>GHCB MSR protocol: page-state change response.</summary>
    public const uint GHCB_MSR_PSC_RESP = 0x015;

    /// <summary>NAE exit code of a page-state change with a shared buffer.</summary>
    public const uint SVM_VMGEXIT_PSC = 0x80000010;

    /// <summary>Entries in <see cref="snp_psc_desc"/>, the descriptor a Linux guest builds (sized for its stack).</summary>
    public const int VMGEXIT_PSC_MAX_ENTRY = 64;

    /// <summary>
    /// The most entries the GHCB specification allows in one page-state-change request; the host side (KVM's
    /// <c>psc_buffer</c> over the GHCB shared buffer) refuses a request whose end entry reaches this.
    /// </summary>
    public const int VMGEXIT_PSC_MAX_COUNT = 253;

    /// <summary>sw_exit_info_2 error: generic.</summary>
    public const ulong PSC_ERROR_GENERIC = 0x100UL << 32;

    /// <summary>sw_exit_info_2 error: bad header.</summary>
    public const ulong PSC_INVALID_HDR = (1UL << 32) | 1;

    /// <summary>sw_exit_info_2 error: bad entry.</summary>
    public const ulong PSC_INVALID_ENTRY = (1UL << 32) | 2;
}

/// <summary><c>struct psc_hdr</c> (asm/sev-common.h, packed): 8 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8, Pack = 1)]
public struct psc_hdr : ICMirror<psc_hdr>
{
    /// <summary>Next entry to process.</summary>
    [FieldOffset(0)] public ushort cur_entry;

    /// <summary>Last entry to process.</summary>
    [FieldOffset(2)] public ushort end_entry;

    /// <summary>Reserved.</summary>
    [FieldOffset(4)] public uint reserved;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        psc_hdr s = default;
        return new MirrorLayoutBuilder<psc_hdr>(ref s, "psc_hdr", "psc_hdr", "arch/x86/include/asm/sev-common.h, torvalds v6.14, line 160")
            .Field(ref s.cur_entry, "cur_entry", "u16")
            .Field(ref s.end_entry, "end_entry", "u16")
            .Field(ref s.reserved, "reserved", "u32")
            .Build();
    }
}

/// <summary>
/// <c>struct psc_entry</c> (asm/sev-common.h, packed): one 64-bit word.
/// <code>63..57 reserved | 56 pagesize | 55..52 operation | 51..12 gfn | 11..0 cur_page</code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8, Pack = 1)]
public struct psc_entry : ICMirror<psc_entry>
{
    private const ulong CurPageMax = (1UL << 12) - 1;
    private const ulong GfnMax = (1UL << 40) - 1;
    private const ulong OperationMax = (1UL << 4) - 1;

    [FieldOffset(0)] private ulong _raw;

    /// <summary>Progress inside a 2M entry, in 4K pages (12 bits).</summary>
    public ulong cur_page
    {
        readonly get => _raw & CurPageMax;
        set => _raw = Set(_raw, 0, CurPageMax, value);
    }

    /// <summary>The guest frame (40 bits).</summary>
    public ulong gfn
    {
        readonly get => (_raw >> 12) & GfnMax;
        set => _raw = Set(_raw, 12, GfnMax, value);
    }

    /// <summary><see cref="PscOperation"/> (4 bits).</summary>
    public ulong operation
    {
        readonly get => (_raw >> 52) & OperationMax;
        set => _raw = Set(_raw, 52, OperationMax, value);
    }

    /// <summary>0 = 4K, 1 = 2M.</summary>
    public bool pagesize
    {
        readonly get => ((_raw >> 56) & 1) != 0;
        set => _raw = Set(_raw, 56, 1, value ? 1UL : 0);
    }

    /// <summary>The whole word.</summary>
    public ulong Raw
    {
        readonly get => _raw;
        set => _raw = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Set(ulong word, int shift, ulong max, ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, max);
        return (word & ~(max << shift)) | (value << shift);
    }

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        psc_entry s = default;
        return new MirrorLayoutBuilder<psc_entry>(ref s, "psc_entry", "psc_entry", "arch/x86/include/asm/sev-common.h, torvalds v6.14, line 166")
            .Bits("cur_page", 0, 12, static (in e) => e.cur_page, static (ref e, v) => e.cur_page = v)
            .Bits("gfn", 12, 40, static (in e) => e.gfn, static (ref e, v) => e.gfn = v)
            .Bits("operation", 52, 4, static (in e) => e.operation, static (ref e, v) => e.operation = v)
            .Bits("pagesize", 56, 1, static (in e) => e.pagesize ? 1UL : 0, static (ref e, v) => e.pagesize = v != 0)
            .Build();
    }
}

/// <summary>
/// <c>struct snp_psc_desc</c> (asm/sev-common.h, packed): the page-state-change request a Linux guest copies into
/// the GHCB shared buffer, a header and <see cref="Ghcb.VMGEXIT_PSC_MAX_ENTRY"/> (64) entries, 520 bytes. A request
/// from another guest may carry up to <see cref="Ghcb.VMGEXIT_PSC_MAX_COUNT"/> entries in the same format.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 520, Pack = 1)]
public struct snp_psc_desc : ICMirror<snp_psc_desc>
{
    /// <summary>Progress of the request.</summary>
    [FieldOffset(0)] public psc_hdr hdr;

    /// <summary>The entries.</summary>
    [FieldOffset(8)] public FixedArray64<psc_entry> entries;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        snp_psc_desc s = default;
        return new MirrorLayoutBuilder<snp_psc_desc>(ref s, "snp_psc_desc", "snp_psc_desc", "arch/x86/include/asm/sev-common.h, torvalds v6.14, line 174")
            .Field(ref s.hdr, "hdr", "struct psc_hdr")
            .Field(ref s.entries, "entries", "struct psc_entry[64]")
            .Build();
    }
}
