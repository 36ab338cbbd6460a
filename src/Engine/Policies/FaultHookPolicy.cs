using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Policies;

/// <summary>
/// <c>fault-hook</c>: the RFC v4 07/10 patch ("KVM: x86: Add gmem hook for initializing private memory", Michael Roth
/// in Isaku Yamahata's series, 2023-07-20, 21e488b6ced7...@intel.com; peers.md 1.1) with the SEV implementation it was
/// posted for, SNP RFC v9 44/51 ("KVM: SEV: Implement gmem hook for initializing private pages", Roth, 2023-06-11,
/// 20230612042559.375660-45-michael.roth@amd.com). The hook runs in <c>kvm_faultin_pfn_private</c> after get_pfn,
/// on every private fault, with max_level from the folio's order (<c>kvm_max_level_for_order</c>), and converts at
/// the fault's granularity. guest_memfd itself prepares nothing; frees invalidate as merged; there is no separate
/// clamp hook.
/// </summary>
/// <remarks>
/// The posted <c>sev_gmem_prepare(kvm, slot, pfn, gfn, &amp;max_level)</c>, rule by rule:
/// <list type="number">
/// <item>One RMP lookup of the faulting pfn. Assigned: no conversion, clamp max_level to the entry's RMP level.</item>
/// <item>Unassigned and max_level 4K: a 4K RMPUPDATE of the pfn.</item>
/// <item>Otherwise (<c>get_supported_rmp_level</c>) 2M only when the pfn and the gfn are both 2 MiB-aligned as they
/// are (no rounding down: a fault inside the block converts its own page at 4K), every gfn of [gfn, gfn + 512) is
/// private by attribute (<c>is_gfn_range_private</c>, asked first) and every pfn of [pfn, pfn + 512) is unassigned
/// (<c>is_pfn_range_shared</c>, one lookup each until an assigned one); else 4K. The RMPUPDATE is at the pfn and gfn
/// as they are.</item>
/// <item>max_level is clamped to the level converted. A failed RMPUPDATE is returned and fails the fault.</item>
/// </list>
/// Not modelled: both posted range loops are written <c>while (x++ &lt; end)</c> and so test [start + 1, end] instead
/// of [start, end); FastRmp checks the half-open range the callers pass (the same number of lookups), because the
/// literal reading makes the result depend on the next 2 MiB block's pfn and gfn (the last chunk of guest memory
/// could never be 2M). The lookup failure path (-ENOENT) cannot happen in the model.
/// Not thread-safe, as every <see cref="SnpPolicy"/>: it belongs to one VM and is called from its fault path.
/// </remarks>
public sealed class FaultHookPolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    private const ulong PtrsPerPmd = 512;

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

    /// <summary>The posted <c>sev_gmem_prepare</c> of SNP RFC v9 44/51 (see the class remarks for its rules).</summary>
    public override int PrepareInFaultPath(ref KvmHookContext kvm, ref kvm_page_fault_v6_13 fault)
    {
        var pfn = fault.pfn;
        var gfn = fault.gfn;
        var entry = Lookup(pfn);
        if (entry.Assigned)
        {
            Clamp(ref fault, entry.Level); // "No conversion needed, just clamp max_level according to RMP entry."
            return 0;
        }

        var level = fault.max_level == (byte)PgLevel.Level4K ? PgLevel.Level4K : SupportedRmpLevel(ref kvm, pfn, gfn);
        var state = new rmp_state { assigned = 1, pagesize = level == PgLevel.Level2M ? (byte)1 : (byte)0, asid = Asid, gpa = gfn.Gpa.Value };
        int rc = UpdateWithRetry(pfn, state) == RmpUpdateResult.Success ? 0 : -(int)Errno.EINVAL;
        Clamp(ref fault, level);
        return rc;
    }

    /// <summary><c>get_supported_rmp_level</c> (SNP RFC v9 44/51): 2M only for an aligned pfn and gfn over a private gfn range and an unassigned pfn range.</summary>
    private PgLevel SupportedRmpLevel(ref KvmHookContext kvm, kvm_pfn_t pfn, gfn_t gfn)
    {
        if (pfn.Value % PtrsPerPmd != 0 || gfn.Value % PtrsPerPmd != 0)
        {
            return PgLevel.Level4K;
        }

        return kvm.Attributes.RangeIs(gfn, PtrsPerPmd, true) && AllUnassigned(pfn) ? PgLevel.Level2M : PgLevel.Level4K;
    }

    private static void Clamp(ref kvm_page_fault_v6_13 fault, PgLevel level)
    {
        if (fault.max_level > (byte)level)
        {
            fault.max_level = (byte)level;
        }
    }
}
