using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

internal sealed partial class RmpTable<TStore>
{
    /// <inheritdoc />
    internal override bool IsHypervisorOwnedRun(kvm_pfn_t first, ulong count)
    {
        ulong p = first.Value;
        if (count == 0 || p >= Pages || count > Pages - p || AnyInUse(p, count))
        {
            return false;
        }

        return _store.NoneAssigned(p, count);
    }

    /// <inheritdoc />
    internal override bool LookupRunUnassigned(ReadOnlySpan<PfnRange> pages)
    {
        bool unassigned = true;
        foreach (var range in pages)
        {
            ulong p = range.First.Value;
            Check(p);
            Check(p + range.Count - 1);
            unassigned &= _store.NoneAssigned(p, range.Count);
            _counters.Lookups += (long)range.Count;
        }

        return unassigned;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The pages of one 2 MiB region that are all hypervisor-owned, in a region that is not huge, go to the store at
    /// once (<see cref="IRmpStore.WriteRun4K"/>: the compact store fills its linear template): each page's RMPUPDATE
    /// would pass every check, so only the writes and the counters remain. Everything else is executed page by page.
    /// </remarks>
    internal override ulong RmpUpdateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn)
    {
        bool fast = asid <= rmpentry_raw.AsidMax && _inUse.Count == 0;
        ulong succeeded = 0, g = gfn.Value;
        foreach (var range in pages)
        {
            for (ulong p = range.First.Value, end = p + range.Count; p < end;)
            {
                ulong n = Math.Min(end - p, 512 - (p & 511));
                if (fast && p + n <= Pages && g + n - 1 <= rmpentry_raw.GpaMax && !_store.IsHuge(p >> 9) && _store.NoneAssigned(p, n))
                {
                    _store.WriteRun4K(p, n, asid, g);
                    _opt?.Disable(p); // the run lies in one 2 MiB region, so in one RMPOPT region: counted once
                    _counters.CountUpdate(huge: false, toPrivate: true, (long)n);
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

    /// <inheritdoc />
    internal override ulong PvalidateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn)
    {
        ulong done = 0;
        foreach (var range in pages)
        {
            for (ulong p = range.First.Value, end = p + range.Count; p < end;)
            {
                ulong n = Math.Min(end - p, 512 - (p & 511));
                if (p + n > Pages || !_store.TryValidateRun4K(p, n, asid, gfn.Value + done))
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

    /// <inheritdoc />
    internal override bool IsGuestRun(kvm_pfn_t pfn, ulong count, uint asid, gfn_t gfn)
    {
        if (count == 0 || pfn.Value >= Pages || count > Pages - pfn.Value || !_store.IsGuestRun(pfn.Value, count, asid, gfn.Value))
        {
            return false;
        }

        _counters.Lookups += (long)count; // what checking the run page by page (Lookup, then Read) counts
        return true;
    }

    /// <inheritdoc />
    internal override void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        Check(pfn.Value);
        if (count > Pages - pfn.Value)
        {
            ThrowOutOfRange(pfn.Value + count - 1);
        }

        _store.CountGuestEntries(pfn.Value, count, asid, ref heads2M, ref entries4K);
    }

    /// <inheritdoc />
    internal override void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K, GuestMaskCache? cache)
    {
        Check(pfn.Value);
        if (count > Pages - pfn.Value)
        {
            ThrowOutOfRange(pfn.Value + count - 1);
        }

        if (cache is null)
        {
            _store.CountGuestEntries(pfn.Value, count, asid, ref heads2M, ref entries4K);
            return;
        }

        for (ulong p = pfn.Value, end = p + count; p < end;)
        {
            ulong region = p >> 9;
            ulong stop = Math.Min(end, (region + 1) << 9);
            ulong first = p & 511;
            if (!_store.IsHuge(region))
            {
                entries4K += cache.Count(in _store, region, first, stop - p);
            }
            else if (first == 0 && _store.Read(p).asid == asid)
            {
                heads2M++;
            }

            p = stop;
        }
    }
}
