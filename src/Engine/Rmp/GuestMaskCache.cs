using System.Numerics;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// For counting a guest's RMP entries over many short runs of pages in no particular pfn order (a guest_memfd's 4K
/// folios, visited by file index): which 4K entries of each region are assigned to the ASID, read once per region
/// into a 512-bit mask, so that each later run is a few bit counts in a small array instead of a record read at a
/// random place in the whole table.
/// </summary>
/// <remarks>
/// Only while the table does not change, and only with the table that created it (<see cref="RmpTable.CreateGuestMaskCache"/>).
/// Memory: 4 bytes per region of the host (which region has a mask) and 64 bytes per region the guest's runs touch.
/// </remarks>
internal sealed class GuestMaskCache(ulong pages, uint asid)
{
    private int[]? _slots;
    private ulong[] _masks = new ulong[8 * 64];
    private int _used;

    /// <summary>
    /// Entries of [<paramref name="first"/>, + <paramref name="n"/>) of a region that is not huge assigned to the ASID
    /// (n &lt;= 512 - first); the region's mask is read from <paramref name="store"/> the first time.
    /// </summary>
    public long Count<TStore>(in TStore store, ulong region, ulong first, ulong n)
        where TStore : struct, IRmpStore
    {
        var mask = Mask(in store, region);
        long total = 0;
        for (ulong i = first, end = first + n; i < end;)
        {
            int offset = (int)(i & 63);
            int bits = (int)Math.Min((ulong)(64 - offset), end - i);
            ulong range = (bits == 64 ? ulong.MaxValue : ((1UL << bits) - 1)) << offset;
            total += BitOperations.PopCount(mask[(int)(i >> 6)] & range);
            i += (ulong)bits;
        }

        return total;
    }

    private ReadOnlySpan<ulong> Mask<TStore>(in TStore store, ulong region)
        where TStore : struct, IRmpStore
    {
        _slots ??= new int[(pages + 511) / 512];
        int slot = _slots[region] - 1;
        if (slot < 0)
        {
            slot = _used++;
            if ((slot + 1) * 8 > _masks.Length)
            {
                Array.Resize(ref _masks, _masks.Length * 2);
            }

            store.GuestMask(region, asid, _masks.AsSpan(slot * 8, 8));
            _slots[region] = slot + 1;
        }

        return _masks.AsSpan(slot * 8, 8);
    }
}
