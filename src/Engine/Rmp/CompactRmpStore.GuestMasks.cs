using System.Numerics;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    /// <summary>
    /// Writes into <paramref name="mask"/> (8 words) which entries of a region that is not huge are assigned to
    /// <paramref name="asid"/>: bit i for page i of the region. Reads the region's assigned words and its template or
    /// its 512 records once, in order.
    /// </summary>
    internal void GuestMask(ulong region, uint asid, Span<ulong> mask)
    {
        var assigned = new ReadOnlySpan<ulong>(_assigned + (region * 8), 8);
        uint detail = _detailIndex[region];
        if (detail == 0)
        {
            if (((_heads[region] >> RecAsidShift) & rmpentry_raw.AsidMax) == asid)
            {
                assigned.CopyTo(mask);
            }
            else
            {
                mask[..8].Clear();
            }

            return;
        }

        byte* page = DetailPage(detail);
        for (int w = 0; w < 8; w++)
        {
            ulong bits = assigned[w], own = 0;
            while (bits != 0)
            {
                int b = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                if (((ReadRecord(page, (w * 64) + b) >> RecAsidShift) & rmpentry_raw.AsidMax) == asid)
                {
                    own |= 1UL << b;
                }
            }

            mask[w] = own;
        }
    }

    /// <summary>The ASID of a huge region's 2M entry.</summary>
    internal uint HeadAsid(ulong region) => (uint)((_heads[region] >> rmpentry_raw.AsidShift) & rmpentry_raw.AsidMax);
}
