using System.Runtime.CompilerServices;
using FastRmp.Engine.Memory;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP as bitmaps plus detail records: exactly the entries <see cref="RawRmpStore"/> holds, in far less memory,
/// with the lookup KVM makes (assigned + level) touching only two bitmaps.
/// </summary>
/// <remarks>
/// <code>
/// assigned    1 bit per page      the 4K entry's assigned bit
/// validated   1 bit per page      the 4K entry's validated bit (a 2M entry's 512 bits are kept equal)
/// huge        1 bit per region    the 2 MiB-aligned entry is an assigned 2M entry
/// heads       8 bytes per region  a huge region's head entry (low qword, without validated); in a region of 4K
///                                 entries without detail records, the linear template (below)
/// details     4-byte index per region -> a pooled page of 512 x 7-byte records (gpa:39 asid:10 immutable vmsa),
///             present only while the region holds assigned 4K entries that no linear template describes
/// permissions 2 bytes per page, allocated on the first RMPADJUST (VMPL 1-3 masks, 5 bits each)
/// </code>
/// A linear template is one record r with bit 63 set: every assigned 4K entry i of the region holds record r + i
/// (the same ASID, immutable and vmsa bits, and gpa = r's gpa + i). That is the shape a guest's memory takes when
/// its 4K folios come from the allocator in address order (and what PSMASH leaves), so such regions need no pooled
/// page; the first write that does not fit the template turns it into detail records.
/// Memory: about 2.2 bits per page when shared; 140 bytes per 2 MiB region assigned as a 2M entry (1/58 of the raw
/// table); the same 2.2 bits per page when assigned at 4K with GPAs linear in each region; about 7.3 bytes per page
/// when everything is assigned at 4K with arbitrary GPAs (under 1/2). Not thread-safe; all memory is unmanaged and
/// no operation allocates managed memory.
/// </remarks>
public sealed unsafe partial class CompactRmpStore : IRmpStore
{
    private const int RecordBytes = 7;
    private const int DetailPageBytes = 512 * RecordBytes + 8; // 8 bytes of slack for the unaligned 8-byte reads
    private const int DetailsPerSlab = 64;
    private const ulong RecordMask = (1UL << 56) - 1;
    private const int RecAsidShift = 39;
    private const int RecImmutableBit = 49;
    private const int RecVmsaBit = 50;
    private const ulong LinearBit = 1UL << 63;

    private readonly NativeBuffer _bits;
    private readonly ulong _regions;

    // Owners of the memory behind the raw pointers below, which the hot paths read; Dispose nulls the pointers.
    private readonly NativeArray<nint> _slabTable = new();
    private readonly List<NativeBuffer> _slabOwners = [];
    private readonly NativeArray<uint> _freeList = new();
    private NativeBuffer? _permsOwner;

    // Views into _bits; _assigned == null once disposed.
    private ulong* _assigned;
    private ulong* _validated;
    private ulong* _huge;
    private ulong* _heads;
    private uint* _detailIndex;

    private byte** _slabs;
    private int _slabCount;
    private uint* _freeDetails;
    private int _freeCount;
    private int _freeCapacity;
    private uint _detailsMade;
    private ushort* _perms;

    /// <summary>Creates a table covering <paramref name="pages"/> 4 KiB pages, every entry hypervisor-owned.</summary>
    public CompactRmpStore(ulong pages)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pages);
        Pages = pages;
        _regions = (pages + 511) / 512;
        long words = checked((long)_regions * 8);
        long bytes = checked((words * 2 * 8) + ((long)(_regions + 63) / 64 * 8) + ((long)_regions * 8) + ((long)_regions * 4));
        _bits = new NativeBuffer(bytes, alignment: 64, hugePages: bytes >= HugePages.Size);
        var p = (byte*)_bits.Pointer;
        _assigned = (ulong*)p;
        _validated = _assigned + words;
        _huge = _validated + words;
        _heads = _huge + ((_regions + 63) / 64);
        _detailIndex = (uint*)(_heads + _regions);
    }

    /// <inheritdoc />
    /// <remarks>0 once disposed, so a table's range checks refuse every pfn.</remarks>
    public ulong Pages { get; private set; }

    /// <inheritdoc />
    public long MemoryBytes
        => _bits.Length + ((long)_slabCount * DetailsPerSlab * DetailPageBytes) + ((long)_freeCapacity * 4)
            + (_perms != null ? (long)Pages * 2 : 0);

    /// <summary>Regions that currently hold a page of 4K detail records.</summary>
    public long DetailPagesInUse => _detailsMade - _freeCount;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAssigned(ulong pfn) => (Assigned[pfn >> 6] & (1UL << (int)pfn)) != 0;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHuge(ulong region) => (Huge[region >> 6] & (1UL << (int)region)) != 0;

    /// <inheritdoc />
    public rmpentry_raw Read(ulong pfn)
    {
        if (!IsAssigned(pfn))
        {
            return default;
        }

        ulong region = pfn >> 9;
        ulong lo;
        if (IsHuge(region))
        {
            ulong head = _heads[region];
            int index = (int)(pfn & 511);
            lo = index == 0 ? head : RmpModel.SubEntry(new rmpentry_raw { lo = head }, index).lo;
        }
        else
        {
            ulong rec = Record(region, (int)(pfn & 511));
            lo = 1UL
                | (((rec >> RecImmutableBit) & 1) << rmpentry_raw.ImmutableBit)
                | ((rec & rmpentry_raw.GpaMax) << rmpentry_raw.GpaShift)
                | (((rec >> RecAsidShift) & rmpentry_raw.AsidMax) << rmpentry_raw.AsidShift)
                | (((rec >> RecVmsaBit) & 1) << rmpentry_raw.VmsaBit);
        }

        if ((_validated[pfn >> 6] & (1UL << (int)pfn)) != 0)
        {
            lo |= 1UL << rmpentry_raw.ValidatedBit;
        }

        return new rmpentry_raw { lo = lo, hi = _perms == null ? 0 : ExpandPerms(_perms[pfn]) };
    }

    /// <inheritdoc />
    public bool AnyAssigned(ulong region)
    {
        ThrowIfDisposed();
        var w = _assigned + (region * 8);
        return (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0;
    }

    /// <inheritdoc />
    public bool AnyImmutable(ulong region)
    {
        if (IsHuge(region))
        {
            return (_heads[region] & (1UL << rmpentry_raw.ImmutableBit)) != 0;
        }

        uint index = _detailIndex[region];
        if (index == 0)
        {
            return (_heads[region] & (1UL << RecImmutableBit)) != 0; // the template's bit, or 0 for an empty region
        }

        byte* page = DetailPage(index);
        var w = _assigned + (region * 8);
        for (int word = 0; word < 8; word++)
        {
            for (ulong bits = w[word]; bits != 0; bits &= bits - 1)
            {
                int i = (word * 64) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                if ((ReadRecord(page, i) & (1UL << RecImmutableBit)) != 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <inheritdoc />
    public void Write4K(ulong pfn, rmpentry_raw entry)
    {
        ThrowIfDisposed();
        ulong region = pfn >> 9;
        ulong mask = 1UL << (int)pfn;
        if (entry.assigned)
        {
            ulong rec = entry.gpa
                | ((ulong)entry.asid << RecAsidShift)
                | ((entry.immutable ? 1UL : 0) << RecImmutableBit)
                | ((entry.vmsa ? 1UL : 0) << RecVmsaBit);
            uint index = _detailIndex[region];
            ulong i = pfn & 511;
            if (index == 0)
            {
                // rec - i is the template this entry implies (valid when its gpa does not borrow).
                ulong template = LinearBit | (rec - i);
                bool fits = (rec & rmpentry_raw.GpaMax) >= i;
                if (fits && (_heads[region] == template || !AnyAssignedExcept(region, pfn)))
                {
                    _heads[region] = template;
                }
                else
                {
                    index = _detailIndex[region] = Materialize(region);
                }
            }

            if (index != 0)
            {
                WriteRecord(DetailPage(index), (int)i, rec);
            }

            _assigned[pfn >> 6] |= mask;
            _validated[pfn >> 6] = entry.validated ? _validated[pfn >> 6] | mask : _validated[pfn >> 6] & ~mask;
            SetPerms(pfn, 1, entry.hi);
        }
        else
        {
            _assigned[pfn >> 6] &= ~mask;
            _validated[pfn >> 6] &= ~mask;
            SetPerms(pfn, 1, 0);
            uint index = _detailIndex[region];
            if (index != 0)
            {
                WriteRecord(DetailPage(index), (int)(pfn & 511), 0);
                if (!AnyAssigned(region))
                {
                    ReleaseDetail(region);
                }
            }
            else if (!AnyAssigned(region))
            {
                _heads[region] = 0; // the last entry the template described is gone
            }
        }
    }

    /// <inheritdoc />
    public void Write2M(ulong region, rmpentry_raw head)
    {
        ThrowIfDisposed();
        ReleaseDetail(region);
        _heads[region] = (head.lo | (1UL << rmpentry_raw.PageSizeBit)) & ~(1UL << rmpentry_raw.ValidatedBit);
        _huge[region >> 6] |= 1UL << (int)region;
        new Span<ulong>(_assigned + (region * 8), 8).Fill(ulong.MaxValue);
        new Span<ulong>(_validated + (region * 8), 8).Fill(head.validated ? ulong.MaxValue : 0);
        SetPerms(region << 9, 512, head.hi);
    }

    /// <inheritdoc />
    public void Clear2M(ulong region)
    {
        ThrowIfDisposed();
        ReleaseDetail(region);
        _heads[region] = 0;
        _huge[region >> 6] &= ~(1UL << (int)region);
        new Span<ulong>(_assigned + (region * 8), 8).Clear();
        new Span<ulong>(_validated + (region * 8), 8).Clear();
        SetPerms(region << 9, 512, 0);
    }

    /// <inheritdoc />
    public void Smash(ulong region)
    {
        ThrowIfDisposed();
        ulong head = _heads[region];
        ulong rec = ((head >> rmpentry_raw.GpaShift) & rmpentry_raw.GpaMax)
            | (((head >> rmpentry_raw.AsidShift) & rmpentry_raw.AsidMax) << RecAsidShift)
            | (((head >> rmpentry_raw.ImmutableBit) & 1) << RecImmutableBit);
        _huge[region >> 6] &= ~(1UL << (int)region);
        if (((head >> rmpentry_raw.VmsaBit) & 1) == 0)
        {
            _heads[region] = LinearBit | rec; // entry i: gpa + i, the head's owner: exactly a linear template
            return;
        }

        uint index = _detailIndex[region] = TakeDetail();
        byte* page = DetailPage(index);
        WriteRecord(page, 0, rec | (1UL << RecVmsaBit));
        for (int i = 1; i < 512; i++)
        {
            WriteRecord(page, i, rec + (ulong)i);
        }

        _heads[region] = 0;
    }

    /// <summary>Frees the bitmaps, the detail slabs, the free list and the permissions.</summary>
    /// <remarks>
    /// Later calls do nothing. Afterwards <see cref="Pages"/> is 0 and every member that reads or writes entries
    /// throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        if (_assigned == null)
        {
            return;
        }

        _assigned = _validated = _huge = _heads = null;
        _detailIndex = null;
        _slabs = null;
        _freeDetails = null;
        _perms = null;
        _slabCount = 0;
        _freeCount = 0;
        _freeCapacity = 0;
        Pages = 0;
        foreach (var slab in _slabOwners)
        {
            slab.Dispose();
        }

        _slabOwners.Clear();
        _slabTable.Dispose();
        _freeList.Dispose();
        _permsOwner?.Dispose();
        _bits.Dispose();
    }

    // The entry check of every public member that reads or writes entries (Read, AnyImmutable and AnyAssignedTo get it
    // from the IsAssigned or IsHuge they start with). The lookups read their first bitmap through Assigned or Huge, so
    // the check is a test of the pointer they load anyway.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed() => _ = Assigned;

    private ulong* Assigned
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ulong* assigned = _assigned;
            if (assigned == null)
            {
                throw Disposal.Exception(this);
            }

            return assigned;
        }
    }

    private ulong* Huge
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ulong* huge = _huge;
            if (huge == null)
            {
                throw Disposal.Exception(this);
            }

            return huge;
        }
    }

    /// <summary>
    /// The 7-byte record of assigned 4K entry <paramref name="i"/> of a region that is not huge, from its detail page or
    /// its linear template. Code that reads records of 4K entries goes through here: a region with assigned 4K entries
    /// may have no detail page.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Record(ulong region, int i)
    {
        uint detail = _detailIndex[region];
        return detail == 0 ? (_heads[region] & RecordMask) + (ulong)i : ReadRecord(DetailPage(detail), i);
    }

    // True when an entry of the region other than pfn's is assigned.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool AnyAssignedExcept(ulong region, ulong pfn)
    {
        var w = _assigned + (region * 8);
        int own = (int)((pfn >> 6) & 7);
        ulong any = w[own] & ~(1UL << (int)pfn);
        for (int i = 0; i < 8; i++)
        {
            any |= i == own ? 0 : w[i];
        }

        return any != 0;
    }

    // The region's template no longer fits: a pooled page with the record of every assigned entry the template held.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private uint Materialize(ulong region)
    {
        uint index = TakeDetail();
        byte* page = DetailPage(index);
        ulong template = _heads[region] & RecordMask;
        var w = _assigned + (region * 8);
        for (int word = 0; word < 8; word++)
        {
            for (ulong bits = w[word]; bits != 0; bits &= bits - 1)
            {
                int i = (word * 64) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                WriteRecord(page, i, template + (ulong)i);
            }
        }

        _heads[region] = 0;
        return index;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadRecord(byte* page, int i) => Unsafe.ReadUnaligned<ulong>(page + (i * RecordBytes)) & RecordMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteRecord(byte* page, int i, ulong rec)
    {
        byte* p = page + (i * RecordBytes);
        ulong old = Unsafe.ReadUnaligned<ulong>(p);
        Unsafe.WriteUnaligned(p, (old & ~RecordMask) | rec);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* DetailPage(uint index)
    {
        uint slot = index - 1;
        return _slabs[slot / DetailsPerSlab] + (slot % DetailsPerSlab * DetailPageBytes);
    }

    private uint TakeDetail()
    {
        if (_freeCount == 0)
        {
            GrowDetails();
        }

        uint index = _freeDetails[--_freeCount];
        new Span<byte>(DetailPage(index), DetailPageBytes).Clear();
        return index;
    }

    private void ReleaseDetail(ulong region)
    {
        uint index = _detailIndex[region];
        if (index != 0)
        {
            _detailIndex[region] = 0;
            _freeDetails[_freeCount++] = index;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowDetails()
    {
        var slab = new NativeBuffer(DetailsPerSlab * DetailPageBytes);
        _slabOwners.Add(slab);
        _slabs = (byte**)_slabTable.Resize(_slabCount + 1);
        _slabs[_slabCount++] = (byte*)slab.Pointer;
        if (_freeCapacity < _slabCount * DetailsPerSlab)
        {
            _freeCapacity = _slabCount * DetailsPerSlab * 2;
            _freeDetails = _freeList.Resize(_freeCapacity);
        }

        for (int i = DetailsPerSlab - 1; i >= 0; i--)
        {
            _freeDetails[_freeCount++] = _detailsMade + (uint)i + 1;
        }

        _detailsMade += DetailsPerSlab;
    }

    private void SetPerms(ulong pfn, int count, ulong hi)
    {
        if (_perms == null)
        {
            if (hi == 0)
            {
                return;
            }

            _permsOwner = new NativeBuffer(checked((long)Pages * sizeof(ushort)));
            _perms = (ushort*)_permsOwner.Pointer;
        }

        new Span<ushort>(_perms + pfn, count).Fill(PackPerms(hi));
    }

    /// <summary>hi byte v (v = 1..3) holds VMPL v's 5 permission bits (FastRmp's encoding; see <see cref="RmpTable.RmpAdjust"/>).</summary>
    private static ushort PackPerms(ulong hi)
        => (ushort)(((hi >> 8) & 0x1F) | (((hi >> 16) & 0x1F) << 5) | (((hi >> 24) & 0x1F) << 10));

    private static ulong ExpandPerms(ushort p)
        => ((ulong)(p & 0x1F) << 8) | ((ulong)((p >> 5) & 0x1F) << 16) | ((ulong)((p >> 10) & 0x1F) << 24);
}
