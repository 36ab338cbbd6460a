using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Policies;

/// <summary>
/// <c>fault-hook</c>: the RFC v4 07/10 patch ("KVM: x86: Add gmem hook for initializing private memory", Michael Roth
/// in Isaku Yamahata's series, 2023-07-20; peers.md 1.1). The hook runs in the private fault path after max_level is
/// computed from the folio and converts at that granularity: a 2M mapping keeps 2M only when the 2 MiB block's RMP
/// entry is already a 2M entry of this guest or all 512 entries are unassigned (then one 2M RMPUPDATE); otherwise the
/// hook lowers max_level to 4K and converts the 4K page. guest_memfd itself prepares nothing; frees invalidate as
/// merged; there is no separate clamp hook.
/// </summary>
public sealed class FaultHookPolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    /// <inheritdoc />
    public override string Name => "fault-hook";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode => GmemPrepareMode.Never;

    /// <inheritdoc />
    public override int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order) => 0;

    /// <inheritdoc />
    public override PgLevel MaxMappingLevel(kvm_pfn_t pfn, bool isPrivate) => PgLevel.None;

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K => true;

    /// <summary>
    /// Per fresh 4 KiB folio, the hook in the fault path sees max_level 4K (order 0), looks the page up, finds it
    /// unassigned and converts it with a 4K RMPUPDATE; guest_memfd prepares nothing.
    /// </summary>
    public override void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: true);

    /// <inheritdoc />
    public override int PrepareInFaultPath(ref kvm_page_fault_v6_13 fault)
    {
        var pfn = fault.pfn;
        var gfn = fault.gfn;
        if (fault.max_level >= (byte)PgLevel.Level2M)
        {
            var head = new kvm_pfn_t(pfn.Value & ~511UL);
            var entry = Lookup(head);
            if (entry.Assigned && entry.Level == PgLevel.Level2M)
            {
                fault.max_level = (byte)PgLevel.Level2M;
                return 0;
            }

            if (AllUnassigned(head))
            {
                fault.max_level = (byte)PgLevel.Level2M;
                var state = new rmp_state { assigned = 1, pagesize = 1, asid = Asid, gpa = new gfn_t(gfn.Value & ~511UL).Gpa.Value };
                return UpdateWithRetry(head, state) == RmpUpdateResult.Success ? 0 : -(int)Errno.EINVAL;
            }

            fault.max_level = (byte)PgLevel.Level4K;
        }

        if (Lookup(pfn).Assigned)
        {
            return 0;
        }

        var page = new rmp_state { assigned = 1, asid = Asid, gpa = gfn.Gpa.Value };
        return UpdateWithRetry(pfn, page) == RmpUpdateResult.Success ? 0 : -(int)Errno.EINVAL;
    }
}
