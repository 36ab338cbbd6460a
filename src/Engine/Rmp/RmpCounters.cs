namespace FastRmp.Engine.Rmp;

/// <summary>Operation counts of one <see cref="RmpTable"/>: plain fields, incremented on the hot path.</summary>
public struct RmpCounters
{
    /// <summary>Successful 4K RMPUPDATEs.</summary>
    public long RmpUpdate4K;

    /// <summary>Successful 2M RMPUPDATEs.</summary>
    public long RmpUpdate2M;

    /// <summary>Successful RMPUPDATEs that assigned the page (to private or firmware).</summary>
    public long RmpUpdateToPrivate;

    /// <summary>Successful RMPUPDATEs that returned the page to the hypervisor.</summary>
    public long RmpUpdateToShared;

    /// <summary>RMPUPDATEs that returned a failure code.</summary>
    public long RmpUpdateFailed;

    /// <summary>Successful PSMASHes.</summary>
    public long Psmash;

    /// <summary>PSMASHes that returned a failure code.</summary>
    public long PsmashFailed;

    /// <summary>PVALIDATEs that changed the validated bit.</summary>
    public long Pvalidate;

    /// <summary>RMPADJUSTs that changed permissions.</summary>
    public long RmpAdjust;

    /// <summary>Lookups made through <see cref="RmpTable.Lookup(FastRmp.Interop.kvm_pfn_t)"/>.</summary>
    public long Lookups;

    /// <summary>Guest accesses checked.</summary>
    public long GuestAccesses;

    /// <summary>#NPF raised by the RMP checks (guest accesses, 4K PVALIDATE/RMPADJUST on a 2M entry).</summary>
    public long NestedPageFaults;

    /// <summary>Host writes that took an RMP #PF.</summary>
    public long HostFaults;

    /// <summary>
    /// Counts <paramref name="n"/> successful RMPUPDATEs of one kind: the per-page instruction and the batched run
    /// (<c>RmpUpdateRun4K</c>) both count here, so the two cannot drift.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void CountUpdate(bool huge, bool toPrivate, long n = 1)
    {
        if (huge)
        {
            RmpUpdate2M += n;
        }
        else
        {
            RmpUpdate4K += n;
        }

        if (toPrivate)
        {
            RmpUpdateToPrivate += n;
        }
        else
        {
            RmpUpdateToShared += n;
        }
    }

    /// <summary>Instructions executed (RMPUPDATE, PSMASH, PVALIDATE and RMPADJUST, failed or not) plus lookups.</summary>
    public readonly long Operations => RmpUpdate4K + RmpUpdate2M + RmpUpdateFailed + Psmash + PsmashFailed + Pvalidate + RmpAdjust + Lookups;
}
