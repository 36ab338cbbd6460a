using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Engine.Policies;

/// <summary>
/// The design that merged: guest_memfd calls <c>sev_gmem_prepare</c> from <c>kvm_gmem_get_pfn</c>, with an RMP lookup
/// (skip if assigned; 2M only if all 512 entries are unassigned); frees invalidate back to shared (PSMASH when a free
/// covers part of a 2M entry); <c>gmem_max_mapping_level</c> clamps the NPT level at the RMP level. Two modes:
/// <list type="bullet">
/// <item><c>first-use</c> (<see cref="GmemPrepareMode.OncePerFolio"/>): prepared once per folio, tracked by its
/// uptodate flag (virt/kvm/guest_memfd.c, 6.11-6.18; kernel-domain.md 5.1; peers.md 1.2).</item>
/// <item><c>every-get-pfn</c> (<see cref="GmemPrepareMode.EveryGetPfn"/>): "Remove preparation tracking" (after 6.18;
/// kernel-domain.md 0): the hook runs on every get_pfn and is idempotent through its RMP lookup.</item>
/// </list>
/// Not thread-safe, as every <see cref="SnpPolicy"/>: it belongs to one VM and is called from its fault path.
/// </summary>
public sealed class GetPfnPreparePolicy : SnpPolicy
{
    /// <summary>Creates the policy in <paramref name="mode"/> (<see cref="GmemPrepareMode.OncePerFolio"/> or <see cref="GmemPrepareMode.EveryGetPfn"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is <see cref="GmemPrepareMode.Never"/>: this design prepares from get_pfn.</exception>
    public GetPfnPreparePolicy(RmpTable rmp, uint asid, GmemPrepareMode mode = GmemPrepareMode.OncePerFolio)
        : base(rmp, asid)
    {
        if (mode is not (GmemPrepareMode.OncePerFolio or GmemPrepareMode.EveryGetPfn))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "This design prepares from get_pfn: once per folio or on every call.");
        }

        PrepareMode = mode;
    }

    /// <inheritdoc />
    public override string Name => PrepareMode == GmemPrepareMode.OncePerFolio ? "first-use" : "every-get-pfn";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode { get; }

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K => true;

    /// <summary>
    /// Per fresh 4 KiB folio, the fault's get_pfn runs <c>sev_gmem_prepare</c> (its first call for the folio in both
    /// modes), whose lookup finds the page unassigned: one 4K RMPUPDATE to private (order 0: never 2M).
    /// </summary>
    public override void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: true);
}
