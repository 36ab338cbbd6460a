using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>
/// <c>struct tdmr_reserved_area</c> (arch/x86/virt/vmx/tdx/tdx.h, 6.16): a range of a TDMR that holds no
/// TDX-convertible memory (or that holds the PAMT itself): 16 bytes, packed.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16, Pack = 1)]
public struct tdmr_reserved_area : ICMirror<tdmr_reserved_area>
{
    /// <summary>Offset of the range from the TDMR's base.</summary>
    [FieldOffset(0)] public ulong offset;

    /// <summary>Its size in bytes.</summary>
    [FieldOffset(8)] public ulong size;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        tdmr_reserved_area s = default;
        return new MirrorLayoutBuilder<tdmr_reserved_area>(ref s, "tdmr_reserved_area", "tdmr_reserved_area", "arch/x86/virt/vmx/tdx/tdx.h, torvalds v6.16, line 61 (packed)")
            .Field(ref s.offset, "offset", "u64")
            .Field(ref s.size, "size", "u64")
            .Build();
    }
}

/// <summary>
/// <c>struct tdmr_info</c> (arch/x86/virt/vmx/tdx/tdx.h, 6.16): one TD Memory Region the kernel hands the TDX module
/// with TDH.SYS.CONFIG, with the base and size of its PAMT at each page size; packed and 512-byte aligned (so 512 bytes),
/// followed by <see cref="tdmr_reserved_area"/>s (as many as the module's <c>max_reserved_per_tdmr</c>) from
/// <see cref="ReservedAreasOffset"/>. FastRmp.Engine.Tdx.TdxPamt sizes the three PAMTs as
/// <c>tdmr_get_pamt_sz</c> fills them in.
/// </summary>
/// <remarks>
/// The 512-byte alignment is <c>__aligned</c> in C; a managed value cannot carry it, so the mirror states it as an
/// allocation requirement: an array of these handed to native code must come from 512-byte-aligned memory
/// (<c>NativeMemory.AlignedAlloc</c>).
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 512, Pack = 1)]
public struct tdmr_info : ICMirror<tdmr_info>
{
    /// <summary>Where the flexible array of reserved areas starts.</summary>
    public const int ReservedAreasOffset = 64;

    /// <summary>The TDMR's base (1 GiB-aligned).</summary>
    [FieldOffset(0)] public ulong @base;

    /// <summary>Its size (a multiple of 1 GiB).</summary>
    [FieldOffset(8)] public ulong size;

    /// <summary>The 1G-level PAMT.</summary>
    [FieldOffset(16)] public ulong pamt_1g_base;

    /// <summary>Its size.</summary>
    [FieldOffset(24)] public ulong pamt_1g_size;

    /// <summary>The 2M-level PAMT.</summary>
    [FieldOffset(32)] public ulong pamt_2m_base;

    /// <summary>Its size.</summary>
    [FieldOffset(40)] public ulong pamt_2m_size;

    /// <summary>The 4K-level PAMT (with Dynamic PAMT, its bitmap).</summary>
    [FieldOffset(48)] public ulong pamt_4k_base;

    /// <summary>Its size.</summary>
    [FieldOffset(56)] public ulong pamt_4k_size;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        tdmr_info s = default;
        return new MirrorLayoutBuilder<tdmr_info>(ref s, "tdmr_info", "tdmr_info", "arch/x86/virt/vmx/tdx/tdx.h, torvalds v6.16, line 69 (packed, aligned 512)")
            .Field(ref s.@base, "base", "u64")
            .Field(ref s.size, "size", "u64")
            .Field(ref s.pamt_1g_base, "pamt_1g_base", "u64")
            .Field(ref s.pamt_1g_size, "pamt_1g_size", "u64")
            .Field(ref s.pamt_2m_base, "pamt_2m_base", "u64")
            .Field(ref s.pamt_2m_size, "pamt_2m_size", "u64")
            .Field(ref s.pamt_4k_base, "pamt_4k_base", "u64")
            .Field(ref s.pamt_4k_size, "pamt_4k_size", "u64")
            .AllocatedAligned(TdxConstants.TDMR_INFO_ALIGNMENT)
            .Build();
    }
}

/// <summary>
/// <c>struct tdx_sys_info_tdmr</c> (arch/x86/include/asm/tdx_global_metadata.h): the TDX module's TDMR metadata the
/// kernel reads at initialisation: how many TDMRs and reserved areas it takes, and the PAMT entry size at each page
/// size. 10 bytes. (The Dynamic PAMT series adds <c>pamt_page_bitmap_entry_bits</c>, not in a release: not mirrored.)
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 10)]
public struct tdx_sys_info_tdmr : ICMirror<tdx_sys_info_tdmr>
{
    /// <summary>MD_FIELD_ID_MAX_TDMRS.</summary>
    [FieldOffset(0)] public ushort max_tdmrs;

    /// <summary>MD_FIELD_ID_MAX_RESERVED_PER_TDMR.</summary>
    [FieldOffset(2)] public ushort max_reserved_per_tdmr;

    /// <summary>MD_FIELD_ID_PAMT_4K_ENTRY_SIZE.</summary>
    [FieldOffset(4)] public ushort pamt_4k_entry_size;

    /// <summary>MD_FIELD_ID_PAMT_2M_ENTRY_SIZE.</summary>
    [FieldOffset(6)] public ushort pamt_2m_entry_size;

    /// <summary>MD_FIELD_ID_PAMT_1G_ENTRY_SIZE.</summary>
    [FieldOffset(8)] public ushort pamt_1g_entry_size;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        tdx_sys_info_tdmr s = default;
        return new MirrorLayoutBuilder<tdx_sys_info_tdmr>(ref s, "tdx_sys_info_tdmr", "tdx_sys_info_tdmr", "arch/x86/include/asm/tdx_global_metadata.h, torvalds v6.16, line 18")
            .Field(ref s.max_tdmrs, "max_tdmrs", "u16")
            .Field(ref s.max_reserved_per_tdmr, "max_reserved_per_tdmr", "u16")
            .Field(ref s.pamt_4k_entry_size, "pamt_4k_entry_size", "u16")
            .Field(ref s.pamt_2m_entry_size, "pamt_2m_entry_size", "u16")
            .Field(ref s.pamt_1g_entry_size, "pamt_1g_entry_size", "u16")
            .Build();
    }
}

/// <summary>TDX constants FastRmp mirrors.</summary>
[CConstants]
public static class TdxConstants
{
    /// <summary>tdmr_info's alignment (and so its size).</summary>
    public const int TDMR_INFO_ALIGNMENT = 512;
}
