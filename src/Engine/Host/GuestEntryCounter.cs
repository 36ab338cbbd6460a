using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Engine.Hosting;

/// <summary>
/// Counts a guest's folios by order and the RMP entries behind them that are assigned to its ASID (2M heads, and 4K
/// entries outside 2M entries), a run of folios at a time.
/// </summary>
/// <remarks>
/// Runs come in file order, so a guest with 4K folios gives runs of one page at random pfns; the mask cache reads each
/// RMP region touched once (its records in order) instead of one record at a random place per folio.
/// </remarks>
internal struct GuestEntryCounter(RmpTable rmp, uint asid) : IFolioRunVisitor
{
    private readonly GuestMaskCache? _cache = rmp.CreateGuestMaskCache(asid);

    /// <summary>Live folios by order (index = order).</summary>
    public readonly long[] Folios = new long[19];

    /// <summary>Assigned 2M entries of the ASID.</summary>
    public long Rmp2M;

    /// <summary>Assigned 4K entries of the ASID outside 2M entries.</summary>
    public long Rmp4K;

    /// <inheritdoc />
    public void Run(ulong index, kvm_pfn_t pfn, int order, ulong folios)
    {
        Folios[order] += (long)folios;
        rmp.CountGuestEntries(pfn, folios << order, asid, ref Rmp2M, ref Rmp4K, _cache);
    }
}
