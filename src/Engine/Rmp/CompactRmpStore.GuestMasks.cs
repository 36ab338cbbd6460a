using System.Numerics;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    /// <inheritdoc />
    /// <remarks>Reads the region's assigned words and its template or its 512 records once, in order.</remarks>
    public void GuestMask(ulong region, uint asid, Span<ulong> mask)
    {
        ThrowIfDisposed();
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
}
