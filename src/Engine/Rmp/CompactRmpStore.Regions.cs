using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    /// <inheritdoc />
    /// <remarks>
    /// A huge region answers from its head; otherwise the assigned bitmap's words are walked and only the records of
    /// assigned pages are read (from the detail page or the region's linear template), stopping at the first match
    /// (the first assigned page, when the region belongs to one guest).
    /// </remarks>
    public bool AnyAssignedTo(ulong region, uint asid)
    {
        if (IsHuge(region))
        {
            return ((_heads[region] >> rmpentry_raw.AsidShift) & rmpentry_raw.AsidMax) == asid;
        }

        var w = _assigned + (region * 8);
        for (int word = 0; word < 8; word++)
        {
            for (ulong bits = w[word]; bits != 0; bits &= bits - 1)
            {
                int i = (word * 64) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                if (((Record(region, i) >> RecAsidShift) & rmpentry_raw.AsidMax) == asid)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
