using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    /// <inheritdoc />
    public bool NoneAssigned(ulong pfn, ulong count)
    {
        ThrowIfDisposed();
        return !AnyBit(_assigned, pfn, count);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Into the region's linear template when it can describe the run (<see cref="TryWriteLinearRun"/>), else page
    /// by page.
    /// </remarks>
    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn)
    {
        ThrowIfDisposed();
        if (TryWriteLinearRun(pfn, count, asid, gfn))
        {
            return;
        }

        for (ulong i = 0; i < count; i++)
        {
            var entry = new rmpentry_raw { assigned = true, asid = asid, gpa = gfn + i };
            Write4K(pfn + i, entry);
        }
    }

    /// <summary>
    /// Writes assigned 4K entries of <paramref name="asid"/> at gpa <paramref name="gfn"/> + i (mutable, not validated,
    /// no VMSA, no VMPL permissions) into the unassigned pages [<paramref name="pfn"/>, + <paramref name="count"/>) of
    /// one region, when the region's linear template can describe them: exactly what <see cref="Write4K"/> of each
    /// page, in address order, leaves. False, with nothing written, when it cannot (the region has detail records,
    /// or a template for other entries, a page is assigned, or a gpa is below its page's index in the region): the
    /// caller then writes page by page.
    /// </summary>
    /// <remarks>The caller keeps the run inside one region and <paramref name="asid"/> and the gpas in range.</remarks>
    private bool TryWriteLinearRun(ulong pfn, ulong count, uint asid, ulong gfn)
    {
        ulong region = pfn >> 9, first = pfn & 511;
        if (_detailIndex[region] != 0 || IsHuge(region) || gfn < first || AnyBit(_assigned, pfn, count))
        {
            return false;
        }

        // Write4K of the first page keeps the template when the region has no other entry or already holds this
        // template; every later page of the run implies the same template (gpa and index both grow by one).
        ulong template = LinearBit | ((gfn | ((ulong)asid << RecAsidShift)) - first);
        if (_heads[region] != template && AnyAssigned(region))
        {
            return false;
        }

        _heads[region] = template;
        SetBits(_assigned, pfn, count, true);
        SetBits(_validated, pfn, count, false);
        SetPerms(pfn, (int)count, 0);
        return true;
    }

    /// <inheritdoc />
    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn)
    {
        ThrowIfDisposed();
        ulong region = pfn >> 9, first = pfn & 511;
        if (IsHuge(region) || !AllAssigned(region, first, count) || AnyBit(_validated, pfn, count))
        {
            return false;
        }

        uint detail = _detailIndex[region];
        if (detail == 0)
        {
            ulong template = _heads[region];
            if (((template >> RecAsidShift) & rmpentry_raw.AsidMax) != asid
                || (template & rmpentry_raw.GpaMax) + first != gfn
                || (template & (1UL << RecImmutableBit)) != 0)
            {
                return false;
            }
        }
        else
        {
            byte* page = DetailPage(detail);
            for (ulong i = 0; i < count; i++)
            {
                ulong rec = ReadRecord(page, (int)(first + i));
                if (((rec >> RecAsidShift) & rmpentry_raw.AsidMax) != asid
                    || (rec & rmpentry_raw.GpaMax) != gfn + i || (rec & (1UL << RecImmutableBit)) != 0)
                {
                    return false;
                }
            }
        }

        SetBits(_validated, pfn, count, true);
        return true;
    }

    // True when any bit of [first, first + count) is set.
    private static bool AnyBit(ulong* bitmap, ulong first, ulong count)
    {
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            if ((bitmap[i >> 6] & (WordMask(n) << offset)) != 0)
            {
                return true;
            }

            i += (ulong)n;
        }

        return false;
    }

    private static void SetBits(ulong* bitmap, ulong first, ulong count, bool value)
    {
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            ulong mask = WordMask(n) << offset;
            bitmap[i >> 6] = value ? bitmap[i >> 6] | mask : bitmap[i >> 6] & ~mask;
            i += (ulong)n;
        }
    }

    private static ulong WordMask(int bits) => bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
}
