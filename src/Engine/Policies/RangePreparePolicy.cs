using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Policies;

/// <summary>
/// <c>first-use-1g-rework</c>: <c>first-use</c> (guest_memfd prepares a folio at its first get_pfn, 6.11-6.18) with
/// Michael Roth's unmerged rework of <c>sev_gmem_prepare</c>, "[PATCH 4/5] KVM: SEV: Improve handling of large ranges
/// in gmem prepare callback" (series "KVM: gmem: 2MB THP support and preparedness tracking changes", RFC v1,
/// 2024-12-12). Not in the default comparison (<see cref="PolicyCatalog.Names"/>): it is a design for folios larger
/// than 2 MiB, which upstream does not have.
/// </summary>
/// <remarks>
/// The rework fills the whole range instead of one page: with npages = 2^order, it walks [pfn, pfn + npages) from
/// the range's aligned start (pfn and gfn rounded down to npages), one RMP lookup per entry, stepping by the entry's
/// size (<c>next_shared_offset</c>: 512 over a 2M entry, else 1), finds each run of unassigned pages after any
/// assigned ones, and converts the run with 2M RMPUPDATEs where the pfn is 2 MiB-aligned and at least 512 pages of
/// the run are left, 4K RMPUPDATEs otherwise, at the matching gfns. A failed RMPUPDATE ends the call with its error.
/// For a fresh 1 GiB folio that is 512 2M entries; for 4K and 2M folios it converts what the merged hook converts.
/// Not modelled: the patch returns the offset rather than the error when a lookup fails (a lookup cannot fail here).
/// Not thread-safe, as every <see cref="SnpPolicy"/>: it belongs to one VM and is called from its fault path.
/// </remarks>
public sealed class RangePreparePolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    private const ulong PtrsPerPmd = 512;

    /// <inheritdoc />
    public override string Name => "first-use-1g-rework";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode => GmemPrepareMode.OncePerFolio;

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K => true;

    /// <summary>
    /// Per fresh 4 KiB folio, the first get_pfn's prepare walks one page: one lookup finds it unassigned, one 4K
    /// RMPUPDATE (order 0: never 2M).
    /// </summary>
    public override void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: true);

    /// <summary>The reworked <c>sev_gmem_prepare(kvm, pfn, gfn, max_order)</c> (see the class remarks).</summary>
    public override int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order)
    {
        ulong npages = 1UL << order;
        ulong start = pfn.Value & ~(npages - 1);
        ulong end = start + npages;
        ulong g = gfn.Value & ~(npages - 1);
        for (ulong p = start; p < end;)
        {
            NextSharedRun(p, end, out ulong offset, out ulong shared);
            p += offset;
            g += offset;
            while (shared != 0)
            {
                bool huge = p % PtrsPerPmd == 0 && shared >= PtrsPerPmd;
                var state = new rmp_state { assigned = 1, pagesize = huge ? (byte)1 : (byte)0, asid = Asid, gpa = new gfn_t(g).Gpa.Value };
                if (UpdateWithRetry(new kvm_pfn_t(p), state) != RmpUpdateResult.Success)
                {
                    return -(int)Errno.EINVAL;
                }

                ulong step = huge ? PtrsPerPmd : 1;
                p += step;
                g += step;
                shared -= step;
            }
        }

        return 0;
    }

    /// <summary>
    /// <c>next_shared_offset</c>: from <paramref name="first"/> up to <paramref name="end"/>, the offset of the first
    /// unassigned entry and the pages of the unassigned run that starts there (entry sizes added up); with no
    /// unassigned entry, the offset is the rest of the range and the run is empty.
    /// </summary>
    private void NextSharedRun(ulong first, ulong end, out ulong offset, out ulong shared)
    {
        offset = 0;
        shared = 0;
        for (ulong p = first; p < end;)
        {
            // A 2 MiB block with no assigned entry is 512 unassigned 4K entries: the store's region test answers for
            // it at once; the 512 lookups the walk would make are still charged.
            if (p % PtrsPerPmd == 0 && p + PtrsPerPmd <= end && p + PtrsPerPmd <= Rmp.Pages && !Rmp.Store.AnyAssigned(p >> 9))
            {
                if (shared == 0)
                {
                    offset = p - first;
                }

                Counters.RmpLookups += (long)PtrsPerPmd;
                shared += PtrsPerPmd;
                p += PtrsPerPmd;
                continue;
            }

            var entry = Lookup(new kvm_pfn_t(p));
            ulong size = entry.Level == PgLevel.Level2M ? PtrsPerPmd : 1;
            if (entry.Assigned)
            {
                if (shared != 0)
                {
                    break;
                }
            }
            else
            {
                if (shared == 0)
                {
                    offset = p - first;
                }

                shared += size;
            }

            p += size;
        }

        if (shared == 0)
        {
            offset = end - first;
        }
    }
}
