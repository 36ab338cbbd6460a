using System.Diagnostics;
using System.Runtime.CompilerServices;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

public sealed unsafe partial class NptMap
{
    /// <summary>Page-table pages in use (linear tables take none).</summary>
    internal long TablePages => _tablePages.LiveBlocks;

    /// <summary>
    /// How many gfns from <paramref name="gfn"/> on (at most <paramref name="count"/>, and not past the end of its
    /// 2 MiB block) no leaf maps: no 1G or 2M leaf covers the block, and the 4K slots are empty.
    /// </summary>
    internal ulong UnmappedRun(gfn_t gfn, ulong count)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries)
        {
            return 0;
        }

        count = Math.Min(count, 512 - (g & 511));
        ulong e = _top[g >> 18];
        if (e == 0)
        {
            return count;
        }

        if ((e & Present) != 0)
        {
            return 0;
        }

        e = ((ulong*)e)[(g >> 9) & 511];
        if (e == 0)
        {
            return count;
        }

        if ((e & (Present | LinearTable)) != 0)
        {
            return 0;
        }

        var table = (ulong*)e + (g & 511);
        ulong n = 0;
        while (n < count && table[n] == 0)
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Installs 4K leaves mapping gfn <paramref name="gfn"/> + i to <paramref name="pfns"/>[i] over gfns that
    /// <see cref="UnmappedRun"/> found unmapped: what <see cref="Map"/> of each at <see cref="PgLevel.Level4K"/>
    /// does (the tables of the 2 MiB block are created on the way if missing; nothing is replaced).
    /// </summary>
    internal void MapRun4K(gfn_t gfn, ReadOnlySpan<kvm_pfn_t> pfns, bool isPrivate)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries || (g & 511) + (ulong)pfns.Length > 512)
        {
            throw new ArgumentOutOfRangeException(nameof(gfn), $"gfn 0x{g:x} + {pfns.Length} is outside the NPT's {AddressBits}-bit space or crosses a 2 MiB block.");
        }

        Debug.Assert(UnmappedRun(gfn, (ulong)pfns.Length) == (ulong)pfns.Length, "MapRun4K over mapped gfns");
        ulong* slot = Child(_top + (g >> 18), 3) + ((g >> 9) & 511);
        ulong* table = Child(slot, 2) + (g & 511);
        ulong tag = ((ulong)PgLevel.Level4K << LevelShift) | (isPrivate ? PrivateBit : 0) | Present;
        for (int i = 0; i < pfns.Length; i++)
        {
            table[i] = (pfns[i].Value << 12) | tag;
        }

        _leaves4K += pfns.Length;
        Pack(slot);
    }

    /// <summary>Leaf <paramref name="i"/> of the linear table <paramref name="e"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LinearLeaf(ulong e, ulong i) => ((e & ~LinearTable) | Present) + (i << 12);

    // A full table of leaves that map consecutive frames alike becomes one linear entry, and its page is returned.
    private void Pack(ulong* slot)
    {
        var table = (ulong*)*slot;
        ulong first = table[0];
        if ((first & Present) == 0)
        {
            return;
        }

        for (ulong i = 1; i < 512; i++)
        {
            if (table[i] != first + (i << 12))
            {
                return;
            }
        }

        *slot = (first & ~Present) | LinearTable;
        _tablePages.Free(table);
    }

    // Turns the linear entry at slot back into a table of its 512 leaves.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong* Unpack(ulong* slot)
    {
        ulong e = *slot;
        var table = (ulong*)_tablePages.Allocate();
        for (ulong i = 0; i < 512; i++)
        {
            table[i] = LinearLeaf(e, i);
        }

        *slot = (ulong)table;
        return table;
    }
}
