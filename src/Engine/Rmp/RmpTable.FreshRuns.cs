using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed partial class RmpTable
{
    /// <summary>
    /// True when every page of [<paramref name="first"/>, + <paramref name="count"/>) is in the table, hypervisor-owned
    /// and not in use, so that a 4K RMPUPDATE to private of each succeeds. Not an instruction, and not counted: the
    /// model's test of the pages a run of faults is about to take.
    /// </summary>
    internal bool IsHypervisorOwnedRun(kvm_pfn_t first, ulong count)
    {
        ulong p = first.Value;
        if (count == 0 || p >= _store.Pages || count > _store.Pages - p || AnyInUse(p, count))
        {
            return false;
        }

        return _store is CompactRmpStore compact ? compact.NoneAssigned(p, count) : NoneAssignedSlow(p, count);
    }

    /// <summary>
    /// <see cref="Lookup"/> of each page of <paramref name="pages"/>, counted as that many lookups: true when none is
    /// assigned (then each lookup would have said "shared, 4K").
    /// </summary>
    internal bool LookupRunUnassigned(ReadOnlySpan<PfnRange> pages)
    {
        var compact = _store as CompactRmpStore;
        bool unassigned = true;
        foreach (var range in pages)
        {
            ulong p = range.First.Value;
            Check(p);
            Check(p + range.Count - 1);
            unassigned &= compact?.NoneAssigned(p, range.Count) ?? NoneAssignedSlow(p, range.Count);
            _counters.Lookups += (long)range.Count;
        }

        return unassigned;
    }

    /// <summary>
    /// RMPUPDATE to private of each page of <paramref name="pages"/>, in order, as a 4K entry of
    /// <paramref name="asid"/> at gpa (<paramref name="gfn"/> + i) &lt;&lt; 12 for the i-th page: the same entries,
    /// counters and results as <see cref="RmpUpdate"/> page by page. Returns how many succeeded.
    /// </summary>
    /// <remarks>
    /// Hypervisor-owned pages of one 2 MiB region go into the compact store's linear template at once
    /// (<see cref="CompactRmpStore.TryWriteLinearRun"/>); everything else is executed page by page.
    /// </remarks>
    internal ulong RmpUpdateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn)
    {
        var compact = _store as CompactRmpStore;
        bool fast = compact is not null && asid <= rmpentry_raw.AsidMax && _inUse.Count == 0;
        ulong succeeded = 0, g = gfn.Value;
        foreach (var range in pages)
        {
            for (ulong p = range.First.Value, end = p + range.Count; p < end;)
            {
                ulong n = Math.Min(end - p, 512 - (p & 511));
                if (fast && p + n <= _store.Pages && g + n - 1 <= rmpentry_raw.GpaMax && compact!.TryWriteLinearRun(p, n, asid, g))
                {
                    _counters.RmpUpdate4K += (long)n;
                    _counters.RmpUpdateToPrivate += (long)n;
                    succeeded += n;
                }
                else
                {
                    for (ulong i = 0; i < n; i++)
                    {
                        var state = new rmp_state { assigned = 1, asid = asid, gpa = (g + i) << PageSize.Shift4K };
                        succeeded += RmpUpdate(new kvm_pfn_t(p + i), state) == RmpUpdateResult.Success ? 1UL : 0;
                    }
                }

                p += n;
                g += n;
            }
        }

        return succeeded;
    }

    /// <summary>
    /// The guest's 4K PVALIDATE (validate) of each page of <paramref name="pages"/> at gfn <paramref name="gfn"/> + i
    /// by <paramref name="asid"/>, for a leading part of the run where each would simply succeed: sets their validated
    /// bits and counts them as <see cref="Pvalidate"/> does. Returns how many were done; the caller executes the rest
    /// one by one.
    /// </summary>
    internal ulong PvalidateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn)
    {
        if (_store is not CompactRmpStore compact)
        {
            return 0;
        }

        ulong done = 0;
        foreach (var range in pages)
        {
            for (ulong p = range.First.Value, end = p + range.Count; p < end;)
            {
                ulong n = Math.Min(end - p, 512 - (p & 511));
                if (p + n > _store.Pages || !compact.TryValidateGuestRun(p, n, asid, gfn.Value + done))
                {
                    return done;
                }

                _counters.Pvalidate += (long)n;
                done += n;
                p += n;
            }
        }

        return done;
    }

    private bool NoneAssignedSlow(ulong first, ulong count)
    {
        for (ulong p = first; p < first + count; p++)
        {
            if (_store.IsAssigned(p))
            {
                return false;
            }
        }

        return true;
    }
}
