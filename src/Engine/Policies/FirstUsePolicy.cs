using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Engine.Policies;

/// <summary>
/// <c>first-use</c>: what merged in 6.11 (kernel-domain.md 5.1; peers.md 1.2). guest_memfd prepares each folio once,
/// at its first get_pfn (the folio's uptodate flag), with an RMP lookup (skip if assigned; 2M only if all 512 entries
/// are unassigned); frees invalidate back to shared (PSMASH when a free covers part of a 2M entry); the
/// private_max_mapping_level hook clamps the NPT level at the RMP level.
/// </summary>
public sealed class FirstUsePolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    /// <inheritdoc />
    public override string Name => "first-use";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode => GmemPrepareMode.OncePerFolio;

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K(Vm vm) => ReferenceEquals(Vm, vm);

    /// <summary>
    /// Per fresh 4 KiB folio, the first get_pfn's <c>sev_gmem_prepare</c> looks the page up, finds it unassigned and
    /// makes it private with a 4K RMPUPDATE (order 0: never 2M).
    /// </summary>
    public override void PrepareFreshRun4K(Vm vm, GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: true);
}

/// <summary>
/// <c>every-get-pfn</c>: the newest upstream ("Remove preparation tracking", after 6.18; kernel-domain.md 0): the
/// prepare hook runs on every get_pfn and is idempotent through its RMP lookup. Otherwise as <see cref="FirstUsePolicy"/>.
/// </summary>
public sealed class EveryGetPfnPolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    /// <inheritdoc />
    public override string Name => "every-get-pfn";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode => GmemPrepareMode.EveryGetPfn;

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K(Vm vm) => ReferenceEquals(Vm, vm);

    /// <summary>
    /// Per fresh 4 KiB folio, the fault's get_pfn runs <c>sev_gmem_prepare</c>, whose lookup finds the page
    /// unassigned: one 4K RMPUPDATE (the fault is the folio's only get_pfn so far).
    /// </summary>
    public override void PrepareFreshRun4K(Vm vm, GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: true);
}
