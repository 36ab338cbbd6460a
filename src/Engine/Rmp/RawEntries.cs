using System.Runtime.CompilerServices;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>Operations on the 512 raw entries of one 2 MiB region, shared by the contiguous and segmented stores.</summary>
internal static unsafe class RawEntries
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RmpLookup Lookup(rmpentry_raw* entry, rmpentry_raw* head) => RmpLookup.FromBits(entry->lo & 1, (head->lo >> 1) & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsHuge(rmpentry_raw* head) => (head->lo & 3) == 3;

    public static bool AnyAssigned(rmpentry_raw* region, int count = 512) => AnyBit(region, count, 1UL << rmpentry_raw.AssignedBit);

    public static bool AnyImmutable(rmpentry_raw* region) => AnyBit(region, 512, 1UL << rmpentry_raw.ImmutableBit);

    /// <summary>Writes the head with pagesize set and the 511 others as the 4K entries PSMASH would expose.</summary>
    public static void Write2M(rmpentry_raw* region, rmpentry_raw head)
    {
        head.pagesize = true;
        region[0] = head;
        var sub = RmpModel.SubEntry(head, 1);
        for (int i = 1; i < 512; i++)
        {
            region[i] = sub;
            sub.lo += 1UL << rmpentry_raw.GpaShift;
        }
    }

    public static void Clear2M(rmpentry_raw* region) => new Span<rmpentry_raw>(region, 512).Clear();

    private static bool AnyBit(rmpentry_raw* e, int count, ulong bit)
    {
        for (int i = 0; i < count; i++)
        {
            if ((e[i].lo & bit) != 0)
            {
                return true;
            }
        }

        return false;
    }
}
