using System.Runtime.CompilerServices;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

/// <summary>One leaf of the NPT map as a lookup returns it.</summary>
/// <param name="Level">The leaf's level; <see cref="PgLevel.None"/> when the gfn is not mapped.</param>
/// <param name="Pfn">The host frame that backs the gfn itself (the leaf's pfn plus the gfn's offset inside it).</param>
/// <param name="IsPrivate">The mapping is private (an SPTE over guest_memfd memory).</param>
/// <param name="IsWritable">
/// The SPTE's writable bit: clear once dirty logging write-protected the leaf (<see cref="NptMap.WriteProtect"/>), until
/// a guest write makes <c>fast_page_fault</c> set it again (<see cref="NptMap.MakeWritable"/>).
/// </param>
public readonly record struct NptLeaf(PgLevel Level, kvm_pfn_t Pfn, bool IsPrivate, bool IsWritable = true)
{
    /// <summary>True when the gfn is mapped.</summary>
    public bool IsPresent => Level != PgLevel.None;

    /// <summary>The leaf as messages show it, e.g. <c>4K leaf to pfn 0x1234, private</c> or <c>not mapped</c>.</summary>
    public override string ToString()
        => !IsPresent ? "not mapped"
            : $"{Level switch { PgLevel.Level4K => "4K", PgLevel.Level2M => "2M", PgLevel.Level1G => "1G", _ => Level.ToString() }} leaf to pfn {Pfn}, {(IsPrivate ? "private" : "shared")}{(IsWritable ? "" : ", write-protected")}";
}

/// <summary>
/// The VM's nested page table (KVM's TDP MMU root) reduced to what the model needs: which gfns are mapped, at what
/// leaf level, to which pfn, private or shared. Three levels (1G, 2M, 4K) of 512-entry tables in unmanaged memory,
/// like the hardware's; a guest physical space of 2^<see cref="AddressBits"/> bytes.
/// </summary>
/// <remarks>
/// Models the leaf-level effects of <c>kvm_tdp_mmu_map</c> (arch/x86/kvm/mmu/tdp_mmu.c: installing a leaf at the
/// goal level, splitting a huge leaf that is in the way, replacing a child table by a huge leaf) and of
/// <c>kvm_tdp_mmu_zap_leafs</c> (a zap removes every leaf that intersects the range, whole). Empty child tables stay
/// linked, as KVM leaves them. Each leaf has a writable bit, cleared by dirty logging (<see cref="WriteProtect"/>,
/// after <see cref="SplitHugeLeaves"/>) and set again by the fast path (<see cref="MakeWritable"/>); a split leaf's
/// children inherit it. Not thread-safe.
/// <para>
/// One difference of representation, invisible through the API: a full 4K table whose 512 leaves map consecutive
/// frames with the same attributes can be kept as a single entry in its parent (a linear table: the first leaf,
/// with the present bit clear and <c>LinearTable</c> set), so that a guest faulted in run by run
/// (<see cref="MapRun4K"/>) costs 8 bytes per 2 MiB instead of 4 KiB. Any change inside such a table first turns it
/// back into a table.
/// </para>
/// </remarks>
public sealed unsafe partial class NptMap : IDisposable
{
    private const ulong Present = 1;
    private const ulong PrivateBit = 1UL << 3;
    private const ulong LinearTable = 1UL << 4; // in a non-present 2M-level entry: a linear 4K table (a table pointer is 4 KiB-aligned)

    // In a leaf (and in a linear entry, for all its leaves): the writable bit is clear. Kept inverted so that every
    // leaf a fault installs (writable) is built, stored and compared exactly as before the bit existed.
    private const ulong WriteProtected = 1UL << 5;
    private const int LevelShift = 1;

    private readonly Memory.NativeBuffer _topTable;
    private readonly Memory.PageSlab _tablePages = new();

    // The top table's address and size, cached from _topTable for the walks. Dispose sets both to zero: every walk
    // that bounds-checks against _topEntries then lands in its out-of-range branch, which tells disposal apart, so
    // the hot lookups pay nothing for the disposed check.
    private ulong* _top;
    private ulong _topEntries;
    private long _leaves4K;
    private long _leaves2M;
    private long _leaves1G;

    /// <summary>Creates an empty map.</summary>
    public NptMap(int addressBits = 48)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(addressBits, 30);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(addressBits, 52);
        AddressBits = addressBits;
        _topEntries = 1UL << (addressBits - 30);
        _topTable = new Memory.NativeBuffer((long)_topEntries * sizeof(ulong));
        _top = (ulong*)_topTable.Pointer;
    }

    /// <summary>Width of the guest physical address space.</summary>
    public int AddressBits { get; }

    /// <summary>Leaves at 4K.</summary>
    public long Leaves4K => _leaves4K;

    /// <summary>Leaves at 2M.</summary>
    public long Leaves2M => _leaves2M;

    /// <summary>Leaves at 1G.</summary>
    public long Leaves1G => _leaves1G;

    /// <summary>Huge leaves split into child tables because a smaller mapping was installed inside them.</summary>
    public long Splits { get; private set; }

    /// <summary>Bytes of page-table memory.</summary>
    public long MemoryBytes => ((long)_topEntries * 8) + _tablePages.Bytes;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _top == null;

    /// <summary>The leaf that maps <paramref name="gfn"/>.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public NptLeaf Lookup(gfn_t gfn)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries)
        {
            ThrowIfDisposed();
            return default;
        }

        ulong e = _top[g >> 18];
        if ((e & Present) == 0)
        {
            if (e == 0)
            {
                return default;
            }

            e = ((ulong*)e)[(g >> 9) & 511];
            if ((e & Present) == 0)
            {
                if (e == 0)
                {
                    return default;
                }

                if ((e & LinearTable) != 0)
                {
                    e = LinearLeaf(e, g & 511);
                }
                else
                {
                    e = ((ulong*)e)[g & 511];
                    if ((e & Present) == 0)
                    {
                        return default;
                    }
                }
            }
        }

        var level = (PgLevel)((e >> LevelShift) & 3);
        ulong offset = g & ((1UL << ((int)(level - 1) * 9)) - 1);
        return new NptLeaf(level, new kvm_pfn_t((e >> 12) + offset), (e & PrivateBit) != 0, (e & WriteProtected) == 0);
    }

    /// <summary>
    /// Installs a leaf of <paramref name="level"/> for the hugepage that holds <paramref name="gfn"/>, mapping it to
    /// the frames from <paramref name="pfn"/> (aligned to the level). Anything mapped there before is replaced.
    /// </summary>
    /// <returns>Leaves that were removed to make room (the old leaf, or every leaf of a replaced child table).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The gfn is outside the address space, or the level is not 4K, 2M or 1G.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long Map(gfn_t gfn, kvm_pfn_t pfn, PgLevel level, bool isPrivate)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries || level is < PgLevel.Level4K or > PgLevel.Level1G)
        {
            ThrowIfDisposed();
            throw new ArgumentOutOfRangeException(nameof(gfn), $"gfn 0x{g:x} at {level} is outside the NPT's {AddressBits}-bit space.");
        }

        int shift = ((int)level - 1) * 9;
        ulong leaf = ((pfn.Value & ~((1UL << shift) - 1)) << 12) | ((ulong)level << LevelShift) | (isPrivate ? PrivateBit : 0) | Present;
        ulong* slot = _top + (g >> 18);
        if (level == PgLevel.Level1G)
        {
            return Replace(slot, 3, leaf);
        }

        slot = Child(slot, 3) + ((g >> 9) & 511);
        if (level == PgLevel.Level2M)
        {
            return Replace(slot, 2, leaf);
        }

        slot = Child(slot, 2) + (g & 511);
        return Replace(slot, 1, leaf);
    }

    /// <summary>
    /// Zaps every leaf that intersects [<paramref name="start"/>, <paramref name="end"/>), optionally only private
    /// or only shared ones (<c>kvm_gfn_range.attr_filter</c>). Returns the number of leaves removed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long Zap(gfn_t start, gfn_t end, ZapFilter filter = ZapFilter.All)
    {
        ThrowIfDisposed();
        long zapped = 0;
        ulong g = start.Value;
        ulong last = Math.Min(end.Value, _topEntries << 18);
        while (g < last)
        {
            ulong* slot = _top + (g >> 18);
            ulong next1G = ((g >> 18) + 1) << 18;
            zapped += ZapIn(slot, 3, g, Math.Min(last, next1G), filter);
            g = next1G;
        }

        return zapped;
    }

    /// <summary>Calls <paramref name="visit"/> for every leaf: its first gfn and the leaf.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public void ForEachLeaf<TVisitor>(ref TVisitor visit) where TVisitor : struct, INptVisitor
    {
        ThrowIfDisposed();
        for (ulong i = 0; i < _topEntries; i++)
        {
            Visit(_top[i], 3, i << 18, ref visit);
        }
    }

    /// <summary>Frees the page tables.</summary>
    /// <remarks>
    /// Frees the top table and the slab that holds every lower table (as a whole: no walk of the tree). Later calls
    /// do nothing; afterwards <see cref="Lookup"/>, <see cref="Map"/>, <see cref="Zap"/> and
    /// <see cref="ForEachLeaf{TVisitor}"/> throw <see cref="ObjectDisposedException"/>; the internal walks find an
    /// empty map.
    /// </remarks>
    public void Dispose()
    {
        if (_top == null)
        {
            return;
        }

        _top = null;
        _topEntries = 0;
        _topTable.Dispose();
        _tablePages.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_top == null)
        {
            throw Memory.Disposal.Exception(this);
        }
    }

    private static void Visit<TVisitor>(ulong e, int level, ulong gfn, ref TVisitor visit) where TVisitor : struct, INptVisitor
    {
        if (e == 0)
        {
            return;
        }

        if ((e & Present) != 0)
        {
            visit.Leaf(new gfn_t(gfn), LeafOf(e, level));
            return;
        }

        if ((e & LinearTable) != 0)
        {
            for (ulong i = 0; i < 512; i++)
            {
                Visit(LinearLeaf(e, i), 1, gfn + i, ref visit);
            }

            return;
        }

        var table = (ulong*)e;
        int shift = (level - 2) * 9;
        for (ulong i = 0; i < 512; i++)
        {
            Visit(table[i], level - 1, gfn + (i << shift), ref visit);
        }
    }

    private long ZapIn(ulong* slot, int level, ulong first, ulong end, ZapFilter filter)
    {
        ulong e = *slot;
        if (e == 0)
        {
            return 0;
        }

        if ((e & Present) != 0)
        {
            bool isPrivate = (e & PrivateBit) != 0;
            if (filter == ZapFilter.All || (filter == ZapFilter.Private) == isPrivate)
            {
                CountLeaf(level, -1);
                *slot = 0;
                return 1;
            }

            return 0;
        }

        var table = (e & LinearTable) != 0 ? Unpack(slot) : (ulong*)e;
        int shift = (level - 2) * 9;
        long zapped = 0;
        for (ulong g = first; g < end;)
        {
            ulong next = ((g >> shift) + 1) << shift;
            zapped += ZapIn(table + ((g >> shift) & 511), level - 1, g, Math.Min(end, next), filter);
            g = next;
        }

        return zapped;
    }

    private long Replace(ulong* slot, int level, ulong leaf)
    {
        ulong old = *slot;
        long removed = 0;
        if (old != 0)
        {
            // The same leaf with its write permission restored is an update of the SPTE (make_spte over the same pfn),
            // not a removal: the slow path's answer to a write on a leaf split from a write-protected huge leaf.
            removed = (old & Present) != 0 ? (((old ^ leaf) & ~WriteProtected) == 0 ? 0 : 1) : CountLeaves(old, level);
            if ((old & Present) != 0)
            {
                CountLeaf(level, -1);
            }
            else
            {
                FreeSubtree(old, level);
            }
        }

        *slot = leaf;
        CountLeaf(level, +1);
        return removed;
    }

    /// <summary>The child table under a non-leaf entry; creates it, or splits a huge leaf into it.</summary>
    private ulong* Child(ulong* slot, int level)
    {
        ulong e = *slot;
        if (e != 0 && (e & Present) == 0)
        {
            return (e & LinearTable) != 0 ? Unpack(slot) : (ulong*)e;
        }

        var table = (ulong*)_tablePages.Allocate();
        if (e != 0)
        {
            // Split the huge leaf: 512 leaves one level down over the same frames (tdp_mmu_split_huge_page).
            ulong step = 1UL << (((level - 2) * 9) + 12);
            ulong child = (e & ~(3UL << LevelShift)) | ((ulong)(level - 1) << LevelShift);
            for (int i = 0; i < 512; i++)
            {
                table[i] = child + ((ulong)i * step);
            }

            CountLeaf(level, -1);
            if (level - 1 == 2)
            {
                _leaves2M += 512;
            }
            else
            {
                _leaves4K += 512;
            }

            Splits++;
        }

        *slot = (ulong)table;
        return table;
    }

    private static long CountLeaves(ulong e, int level)
    {
        if (e == 0)
        {
            return 0;
        }

        if ((e & Present) != 0)
        {
            return 1;
        }

        if ((e & LinearTable) != 0)
        {
            return 512;
        }

        long n = 0;
        var table = (ulong*)e;
        for (int i = 0; i < 512; i++)
        {
            n += CountLeaves(table[i], level - 1);
        }

        return n;
    }

    private void FreeSubtree(ulong e, int level)
    {
        if (e == 0 || (e & Present) != 0)
        {
            if (e != 0)
            {
                CountLeaf(level, -1);
            }

            return;
        }

        if ((e & LinearTable) != 0)
        {
            _leaves4K -= 512;
            return;
        }

        var table = (ulong*)e;
        for (int i = 0; i < 512; i++)
        {
            FreeSubtree(table[i], level - 1);
        }

        _tablePages.Free(table);
    }

    private void CountLeaf(int level, long delta)
    {
        switch (level)
        {
            case 1: _leaves4K += delta; break;
            case 2: _leaves2M += delta; break;
            default: _leaves1G += delta; break;
        }
    }
}

/// <summary>Which leaves a zap removes (<c>enum kvm_gfn_range_filter</c>).</summary>
public enum ZapFilter
{
    /// <summary>Every leaf.</summary>
    All,

    /// <summary>Private leaves only (KVM_FILTER_PRIVATE).</summary>
    Private,

    /// <summary>Shared leaves only (KVM_FILTER_SHARED).</summary>
    Shared,
}

/// <summary>Receives the leaves of an <see cref="NptMap"/> (a struct, so a walk allocates nothing).</summary>
public interface INptVisitor
{
    /// <summary>One leaf, with the first gfn it maps.</summary>
    void Leaf(gfn_t gfn, NptLeaf leaf);
}
