using System.Runtime.CompilerServices;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// Operations on raw entries, shared by the contiguous and segmented stores: on the 512 entries of one 2 MiB region,
/// or on a run of entries inside one region (the segmented store's entries are contiguous within a region, not across
/// segments). The run operations walk entry by entry: the raw layout has no faster form, and the results must be
/// those of reading each entry.
/// </summary>
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

    /// <summary>Assigned 4K entries of <paramref name="asid"/> at gpa <paramref name="gfn"/> + i into <paramref name="count"/> entries.</summary>
    public static void WriteRun4K(rmpentry_raw* e, ulong count, uint asid, ulong gfn)
    {
        for (ulong i = 0; i < count; i++)
        {
            var entry = new rmpentry_raw { assigned = true, asid = asid, gpa = gfn + i };
            e[i] = entry;
        }
    }

    /// <summary>
    /// <see cref="IRmpStore.TryValidateRun4K"/> over <paramref name="count"/> entries of the region whose first entry
    /// is <paramref name="head"/>: all checked before any is changed.
    /// </summary>
    public static bool TryValidateRun4K(rmpentry_raw* head, rmpentry_raw* e, ulong count, uint asid, ulong gfn)
    {
        if (IsHuge(head))
        {
            return false;
        }

        for (ulong i = 0; i < count; i++)
        {
            var entry = e[i];
            if (!entry.assigned || entry.asid != asid || entry.gpa != gfn + i || entry.immutable || entry.validated)
            {
                return false;
            }
        }

        for (ulong i = 0; i < count; i++)
        {
            e[i].validated = true;
        }

        return true;
    }

    /// <summary>True when each of <paramref name="count"/> entries is assigned to <paramref name="asid"/> at gpa <paramref name="gfn"/> + i.</summary>
    public static bool IsGuestRun(rmpentry_raw* e, ulong count, uint asid, ulong gfn)
    {
        for (ulong i = 0; i < count; i++)
        {
            var entry = e[i];
            if (!entry.assigned || entry.asid != asid || entry.gpa != gfn + i)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// <see cref="IRmpStore.CountGuestEntries"/> over <paramref name="count"/> entries of the region whose first entry
    /// is <paramref name="head"/>: a head with pagesize counts as a 2M entry, the others count only outside a 2M entry.
    /// </summary>
    public static void CountGuestEntries(rmpentry_raw* head, rmpentry_raw* e, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        bool huge = IsHuge(head);
        for (ulong i = 0; i < count; i++)
        {
            var entry = e[i];
            if (!entry.assigned || entry.asid != asid)
            {
                continue;
            }

            if (entry.pagesize)
            {
                heads2M++;
            }
            else if (!huge)
            {
                entries4K++;
            }
        }
    }

    /// <summary><see cref="IRmpStore.GuestMask"/> from the first <paramref name="count"/> entries of a region (the rest are past the table).</summary>
    public static void GuestMask(rmpentry_raw* region, int count, uint asid, Span<ulong> mask)
    {
        mask[..8].Clear();
        for (int i = 0; i < count; i++)
        {
            if ((region[i].lo & 1) != 0 && region[i].asid == asid)
            {
                mask[i >> 6] |= 1UL << i;
            }
        }
    }

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
