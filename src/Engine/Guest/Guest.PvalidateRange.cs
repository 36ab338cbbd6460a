using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Guests;

public sealed partial class Guest
{
    /// <summary>Pages the batched acceptance path handled (a statistic of the model, not of KVM; not in the reports).</summary>
    public long BatchedPages { get; private set; }

    /// <summary>
    /// The guest's 4K PVALIDATE of each page of [<paramref name="gpa"/>, + <paramref name="pages"/> × 4 KiB), in
    /// order: the same state, counters and results as <see cref="Pvalidate"/>(page, 4K, <paramref name="validate"/>)
    /// page by page. Returns how many PVALIDATEs succeeded.
    /// </summary>
    /// <remarks>
    /// This is how a guest accepts memory its 2M PVALIDATE could not (Linux's and OVMF's fallback on
    /// FAIL_SIZEMISMATCH). With 4 KiB folios each page then takes an #NPF and a first private fault before its
    /// PVALIDATE completes. Where a stretch of pages is fresh (<see cref="Kvm.Vm.FaultInFreshRun4K"/>) and
    /// <see cref="Kvm.VmConfig.BatchFreshFaults"/> is set, KVM faults the stretch in as one run and the PVALIDATEs of
    /// the run are done at once; every other page goes through <see cref="Pvalidate"/>. Debug builds cut runs to
    /// <see cref="Kvm.Vm.FreshRunLimit"/> pages so the whole test suite crosses run edges.
    /// </remarks>
    public long PvalidateRange(gpa_t gpa, ulong pages, bool validate)
    {
        long succeeded = 0;
        Span<PfnRange> ranges = stackalloc PfnRange[Kvm.Vm.FreshRunLimit];
        for (ulong i = 0; i < pages;)
        {
            var page = new gpa_t(gpa.Value + (i << PageSize.Shift4K));
            if (validate && _vm.Config.BatchFreshFaults && _rmp is not null)
            {
                ulong done = _vm.FaultInFreshRun4K(page.Gfn, pages - i, ranges, out int rangeCount);
                if (done != 0)
                {
                    succeeded += PvalidateFreshRun(page.Gfn, done, ranges[..rangeCount]);
                    BatchedPages += (long)done;
                    i += done;
                    continue;
                }
            }

            succeeded += Pvalidate(page, RmpPageSize.Size4K, validate).Result == PvalidateResult.Success ? 1 : 0;
            i++;
        }

        return succeeded;
    }

    // Every entry of the run was just made a 4K entry of this guest at its gfn, not validated: each PVALIDATE
    // succeeds; a page the run's primitive could not do goes through the per-page instruction.
    private long PvalidateFreshRun(gfn_t gfn, ulong count, ReadOnlySpan<PfnRange> pages)
    {
        ulong done = _rmp!.PvalidateRun4K(pages, _vm.Config.Asid, gfn);
        long validated = (long)done;
        for (ulong i = done; i < count; i++)
        {
            validated += Pvalidate((gfn + i).Gpa, RmpPageSize.Size4K, true).Result == PvalidateResult.Success ? 1 : 0;
        }

        return validated;
    }
}
