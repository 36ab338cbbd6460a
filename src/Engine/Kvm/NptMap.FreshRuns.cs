using System.Diagnostics;
using System.Runtime.CompilerServices;
using FastRmp.Engine.Allocation;
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

        int busy = new ReadOnlySpan<ulong>((ulong*)e + (g & 511), (int)count).IndexOfAnyExcept(0UL);
        return busy < 0 ? count : (ulong)busy;
    }

    /// <summary>
    /// Installs 4K leaves mapping gfn <paramref name="gfn"/> + i to the i-th page of <paramref name="pages"/>, over
    /// gfns that <see cref="UnmappedRun"/> found unmapped: what <see cref="Map"/> of each at
    /// <see cref="PgLevel.Level4K"/> does (the tables of the 2 MiB block are created on the way if missing; nothing is
    /// replaced). A table the run fills with consecutive frames becomes a linear entry.
    /// </summary>
    internal void MapRun4K(gfn_t gfn, ReadOnlySpan<PfnRange> pages, bool isPrivate)
    {
        ulong g = gfn.Value, count = 0;
        foreach (var range in pages)
        {
            count += range.Count;
        }

        if ((g >> 18) >= _topEntries || (g & 511) + count > 512)
        {
            ThrowIfDisposed();
            throw new ArgumentOutOfRangeException(nameof(gfn), $"gfn 0x{g:x} + {count} is outside the NPT's {AddressBits}-bit space or crosses a 2 MiB block.");
        }

        Debug.Assert(UnmappedRun(gfn, count) == count, "MapRun4K over mapped gfns");
        ulong* slot = Child(_top + (g >> 18), 3) + ((g >> 9) & 511);
        ulong tag = ((ulong)PgLevel.Level4K << LevelShift) | (isPrivate ? PrivateBit : 0) | Present;
        ulong k = g & 511;
        _leaves4K += (long)count;
        if (pages.Length == 1 && k + count == 512 && pages[0].First.Value >= k
            && LinearBefore(*slot, k, ((pages[0].First.Value - k) << 12) | tag))
        {
            // The run completes a table whose leaves before it already continue into it: write the linear entry.
            if (*slot != 0)
            {
                _tablePages.Free((ulong*)*slot);
            }

            *slot = (((pages[0].First.Value - k) << 12) | tag | LinearTable) & ~Present;
            return;
        }

        ulong* table = Child(slot, 2) + k;
        foreach (var range in pages)
        {
            for (ulong i = 0; i < range.Count; i++)
            {
                table[i] = ((range.First.Value + i) << 12) | tag;
            }

            table += range.Count;
        }

        Pack(slot);
    }

    // True when the 2M-level entry e holds exactly the leaves first + (i << 12) for i < k and nothing else (or, for
    // k = 0, nothing at all).
    private static bool LinearBefore(ulong e, ulong k, ulong first)
    {
        if (e == 0)
        {
            return k == 0;
        }

        if ((e & (Present | LinearTable)) != 0)
        {
            return false;
        }

        var table = (ulong*)e;
        for (ulong i = 0; i < k; i++)
        {
            if (table[i] != first + (i << 12))
            {
                return false;
            }
        }

        return true;
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
