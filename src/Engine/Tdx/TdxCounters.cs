namespace FastRmp.Engine.Tdx;

/// <summary>What the TDX module and KVM's TDX code did, counted (docs/tdx.md).</summary>
/// <remarks>A plain struct of counts; read through <see cref="TdxModule.Counters"/>. Not thread-safe.</remarks>
public struct TdxCounters
{
    /// <summary>TDH.MEM.PAGE.ADD: initial pages added (and measured) while the TD is built.</summary>
    public long PageAdd;

    /// <summary>TDH.MR.EXTEND calls (one per 256 bytes of a measured page).</summary>
    public long MrExtend;

    /// <summary>TDH.MEM.PAGE.AUG at 4 KiB.</summary>
    public long PageAug4K;

    /// <summary>TDH.MEM.PAGE.AUG at 2 MiB (the huge-page series).</summary>
    public long PageAug2M;

    /// <summary>TDH.MEM.SEPT.ADD: Secure EPT page-table pages added.</summary>
    public long SeptAdd;

    /// <summary>TDH.MEM.RANGE.BLOCK.</summary>
    public long RangeBlock;

    /// <summary>TDH.MEM.TRACK (each followed by a kick of every vCPU out of the guest).</summary>
    public long Track;

    /// <summary>TDH.MEM.PAGE.DEMOTE: 2 MiB leaves split into 512 4 KiB leaves.</summary>
    public long Demote;

    /// <summary>TDH.MEM.PAGE.REMOVE.</summary>
    public long Remove;

    /// <summary>TDH.PHYMEM.PAGE.WBINVD of removed pages.</summary>
    public long Wbinvd;

    /// <summary>TDG.MEM.PAGE.ACCEPT calls that accepted a 4 KiB page.</summary>
    public long Accepted4K;

    /// <summary>TDG.MEM.PAGE.ACCEPT calls that accepted a 2 MiB page.</summary>
    public long Accepted2M;

    /// <summary>TDG.MEM.PAGE.ACCEPT calls that returned TDX_PAGE_SIZE_MISMATCH (the guest retries smaller).</summary>
    public long AcceptSizeMismatch;

    /// <summary>TDG.MEM.PAGE.ACCEPT calls that found the page accepted already (a warning).</summary>
    public long AcceptAlready;

    /// <summary>TDG.MEM.PAGE.ACCEPT calls that exited to KVM with an EPT violation (nothing mapped, or mapped larger than accepted).</summary>
    public long AcceptEptViolations;

    /// <summary>Huge leaves KVM split because the guest accepted at a smaller size, with GUEST_INHIBIT set (huge-page series).</summary>
    public long AcceptSplits;

    /// <summary>Guest accesses to a private page KVM mapped but the guest never accepted: KVM kills the TD.</summary>
    public long UnacceptedAccesses;
}
