using System.Numerics;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    /// <inheritdoc />
    /// <remarks>Answered per region from a 2M head or a linear template, else per record.</remarks>
    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn)
    {
        ThrowIfDisposed();
        for (ulong end = pfn + count; pfn < end;)
        {
            ulong region = pfn >> 9;
            ulong stop = Math.Min(end, (region + 1) << 9);
            ulong first = pfn & 511, n = stop - pfn;
            if (IsHuge(region))
            {
                ulong head = _heads[region];
                if (((head >> rmpentry_raw.AsidShift) & rmpentry_raw.AsidMax) != asid
                    || ((head >> rmpentry_raw.GpaShift) & rmpentry_raw.GpaMax) + first != gfn)
                {
                    return false;
                }
            }
            else if (!AllAssigned(region, first, n))
            {
                return false;
            }
            else if (_detailIndex[region] == 0)
            {
                ulong template = _heads[region];
                if (((template >> RecAsidShift) & rmpentry_raw.AsidMax) != asid || (template & rmpentry_raw.GpaMax) + first != gfn)
                {
                    return false;
                }
            }
            else
            {
                byte* page = DetailPage(_detailIndex[region]);
                for (ulong i = 0; i < n; i++)
                {
                    ulong rec = ReadRecord(page, (int)(first + i));
                    if (((rec >> RecAsidShift) & rmpentry_raw.AsidMax) != asid || (rec & rmpentry_raw.GpaMax) != gfn + i)
                    {
                        return false;
                    }
                }
            }

            gfn += n;
            pfn = stop;
        }

        return true;
    }

    /// <inheritdoc />
    /// <remarks>A huge region answers from its head, a template region from its template and bit counts.</remarks>
    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        ThrowIfDisposed();
        for (ulong end = pfn + count; pfn < end;)
        {
            ulong region = pfn >> 9;
            ulong stop = Math.Min(end, (region + 1) << 9);
            ulong first = pfn & 511, n = stop - pfn;
            if (IsHuge(region))
            {
                if (first == 0 && ((_heads[region] >> rmpentry_raw.AsidShift) & rmpentry_raw.AsidMax) == asid)
                {
                    heads2M++;
                }
            }
            else if (_detailIndex[region] == 0)
            {
                if (((_heads[region] >> RecAsidShift) & rmpentry_raw.AsidMax) == asid)
                {
                    entries4K += CountAssigned(region, first, n);
                }
            }
            else
            {
                byte* page = DetailPage(_detailIndex[region]);
                for (ulong i = first; i < first + n; i++)
                {
                    if (IsAssigned((region << 9) + i) && ((ReadRecord(page, (int)i) >> RecAsidShift) & rmpentry_raw.AsidMax) == asid)
                    {
                        entries4K++;
                    }
                }
            }

            pfn = stop;
        }
    }

    /// <inheritdoc />
    /// <remarks>One bit: the record, template and permissions stay as they are.</remarks>
    public void SetValidated(ulong pfn, bool validated)
    {
        ThrowIfDisposed();
        ulong mask = 1UL << (int)pfn;
        _validated[pfn >> 6] = validated ? _validated[pfn >> 6] | mask : _validated[pfn >> 6] & ~mask;
    }

    // Entries [first, first + n) of the region, as bits of its 8 assigned words: all set, or how many.
    private bool AllAssigned(ulong region, ulong first, ulong n) => CountAssigned(region, first, n) == (long)n;

    private long CountAssigned(ulong region, ulong first, ulong n)
    {
        var w = _assigned + (region * 8);
        long total = 0;
        for (ulong i = first, end = first + n; i < end;)
        {
            int offset = (int)(i & 63);
            int bits = (int)Math.Min((ulong)(64 - offset), end - i);
            ulong mask = (bits == 64 ? ulong.MaxValue : ((1UL << bits) - 1)) << offset;
            total += BitOperations.PopCount(w[i >> 6] & mask);
            i += (ulong)bits;
        }

        return total;
    }
}
