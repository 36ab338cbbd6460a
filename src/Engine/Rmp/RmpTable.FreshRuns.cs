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
    /// <see cref="Lookup"/> of each page of <paramref name="pfns"/>, counted as that many lookups: true when none is
    /// assigned (then each lookup would have said "shared, 4K").
    /// </summary>
    internal bool LookupRunUnassigned(ReadOnlySpan<kvm_pfn_t> pfns)
    {
        var compact = _store as CompactRmpStore;
        bool unassigned = true;
        for (int at = 0; at < pfns.Length;)
        {
            int n = Segment(pfns, at);
            ulong p = pfns[at].Value;
            Check(p);
            Check(p + (ulong)n - 1);
            unassigned &= compact?.NoneAssigned(p, (ulong)n) ?? NoneAssignedSlow(p, (ulong)n);
            at += n;
        }

        _counters.Lookups += pfns.Length;
        return unassigned;
    }

    /// <summary>
    /// RMPUPDATE to private of each page of <paramref name="pfns"/>, in order, as a 4K entry of <paramref name="asid"/>
    /// at gpa (<paramref name="gfn"/> + i) &lt;&lt; 12: the same entries, counters and results as <see cref="RmpUpdate"/>
    /// page by page. Returns how many succeeded.
    /// </summary>
    /// <remarks>
    /// Pages that are consecutive in one 2 MiB region and hypervisor-owned go into the compact store's linear template
    /// at once (<see cref="CompactRmpStore.TryWriteLinearRun"/>); everything else is executed page by page.
    /// </remarks>
    internal int RmpUpdateRun4K(ReadOnlySpan<kvm_pfn_t> pfns, uint asid, gfn_t gfn)
    {
        var compact = _store as CompactRmpStore;
        bool valid = asid <= rmpentry_raw.AsidMax && gfn.Value + (ulong)pfns.Length - 1 <= rmpentry_raw.GpaMax && _inUse.Count == 0;
        int succeeded = 0;
        for (int at = 0; at < pfns.Length;)
        {
            int n = Segment(pfns, at);
            ulong p = pfns[at].Value;
            if (compact is not null && valid && p + (ulong)n <= _store.Pages && compact.TryWriteLinearRun(p, (ulong)n, asid, gfn.Value + (ulong)at))
            {
                _counters.RmpUpdate4K += n;
                _counters.RmpUpdateToPrivate += n;
                succeeded += n;
            }
            else
            {
                for (int i = at; i < at + n; i++)
                {
                    var state = new rmp_state { assigned = 1, asid = asid, gpa = (gfn.Value + (ulong)i) << PageSize.Shift4K };
                    succeeded += RmpUpdate(pfns[i], state) == RmpUpdateResult.Success ? 1 : 0;
                }
            }

            at += n;
        }

        return succeeded;
    }

    /// <summary>
    /// The guest's 4K PVALIDATE (validate) of each page of <paramref name="pfns"/> at gfn <paramref name="gfn"/> + i by
    /// <paramref name="asid"/>, for a leading part of the run where each would simply succeed: sets their validated
    /// bits and counts them as <see cref="Pvalidate"/> does. Returns how many were done; the caller executes the rest
    /// one by one.
    /// </summary>
    internal int PvalidateRun4K(ReadOnlySpan<kvm_pfn_t> pfns, uint asid, gfn_t gfn)
    {
        if (_store is not CompactRmpStore compact)
        {
            return 0;
        }

        int done = 0;
        while (done < pfns.Length)
        {
            int n = Segment(pfns, done);
            ulong p = pfns[done].Value;
            if (p + (ulong)n > _store.Pages || !compact.TryValidateGuestRun(p, (ulong)n, asid, gfn.Value + (ulong)done))
            {
                break;
            }

            _counters.Pvalidate += n;
            done += n;
        }

        return done;
    }

    // The length of the run of consecutive pfns from pfns[at] that stays inside one 2 MiB region.
    private static int Segment(ReadOnlySpan<kvm_pfn_t> pfns, int at)
    {
        ulong first = pfns[at].Value;
        ulong room = 512 - (first & 511);
        int n = 1;
        while (at + n < pfns.Length && (ulong)n < room && pfns[at + n].Value == first + (ulong)n)
        {
            n++;
        }

        return n;
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
