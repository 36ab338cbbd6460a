namespace FastRmp.Engine.Tdx;

/// <summary>Which TDX design KVM runs (docs/tdx.md).</summary>
public enum TdxDesign
{
    /// <summary>
    /// KVM's TDX as merged (6.16; arch/x86/kvm/vmx/tdx.c): private memory is mapped at 4 KiB only
    /// (<c>tdx_gmem_private_max_mapping_level</c> returns PG_LEVEL_4K), TDH.MEM.PAGE.ADD while the TD is built,
    /// TDH.MEM.PAGE.AUG after.
    /// </summary>
    Merged,

    /// <summary>
    /// The TDX huge-page series (Yan Zhao, RFC v2 2025-08-07, v3 2026-01-06; not merged): 2 MiB private leaves at run
    /// time (4 KiB while the TD is built), a guest ACCEPT smaller than the leaf splits it and sets GUEST_INHIBIT, a
    /// conversion or hole punch that cuts a 2 MiB leaf splits it first (BLOCK, TRACK, DEMOTE), and no promotion.
    /// </summary>
    HugePages,
}

/// <summary>Names of the TDX designs, as the command line and results spell them.</summary>
public static class TdxDesigns
{
    /// <summary>The name of <see cref="TdxDesign.Merged"/>.</summary>
    public const string MergedName = "tdx";

    /// <summary>The name of <see cref="TdxDesign.HugePages"/>.</summary>
    public const string HugePagesName = "tdx-2m";

    /// <summary>Every design's name.</summary>
    public static IReadOnlyList<string> Names { get; } = [MergedName, HugePagesName];

    /// <summary>The design called <paramref name="name"/>.</summary>
    public static bool TryParse(string name, out TdxDesign design)
    {
        design = name switch
        {
            MergedName => TdxDesign.Merged,
            HugePagesName => TdxDesign.HugePages,
            _ => (TdxDesign)(-1),
        };
        return (int)design >= 0;
    }

    /// <summary>The name of <paramref name="design"/>.</summary>
    public static string Name(this TdxDesign design) => design == TdxDesign.HugePages ? HugePagesName : MergedName;
}
