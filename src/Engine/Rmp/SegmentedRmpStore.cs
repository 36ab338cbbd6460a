using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastRmp.Engine.Memory;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP in the hardware's segmented layout (Linux 6.14+ with SEG_RMP_ENABLED; kernel-domain.md 4.2): the 16 KiB
/// bookkeeping area, then the 4 KiB RMP Segment Table (RST) of up to 512 u64 entries, each holding a segment's
/// mapped size in GB (bits 19:0) and its base address (bits 51:20); segment i holds the raw entries of the host
/// physical range [i, i + 1) &lt;&lt; shift. A lookup is: segment = PA &gt;&gt; shift, entry = base + ((PA &amp; (coverage - 1)) &gt;&gt; 12) * 16.
/// </summary>
/// <remarks>
/// In the model a segment's "physical" base is its address in this process, 1 MiB-aligned as bits 51:20 require,
/// so C code can walk <see cref="TableBase"/> and the RST as the CPU would. Every segment is fully mapped. Entry
/// contents and semantics are those of <see cref="RawRmpStore"/>. Not thread-safe. Every access goes through
/// <see cref="Entry"/>, which checks the cached RST address first (one test of a field it loads anyway), so a disposed
/// store throws <see cref="ObjectDisposedException"/> instead of touching unmapped memory.
/// </remarks>
public sealed unsafe partial class SegmentedRmpStore : IRmpStore
{
    /// <summary>Offset of the RST from the table base.</summary>
    public const int RstOffset = 0x4000;

    /// <summary>Entries in the RST.</summary>
    public const int MaxSegments = 512;

    private const ulong BaseMask = ((1UL << 52) - 1) & ~((1UL << 20) - 1);

    private readonly NativeBuffer _table;
    private readonly NativeBuffer[] _segments;
    private ulong* _rst; // null once disposed
    private readonly int _pageShift;
    private readonly ulong _pageMask;

    /// <summary>Creates a table covering <paramref name="pages"/> pages in segments of 2^<paramref name="segmentShift"/> bytes each.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The shift is outside 30..51, or more than 512 segments would be needed.</exception>
    public SegmentedRmpStore(ulong pages, int segmentShift = 36)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pages);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentShift, 30);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(segmentShift, 51);
        _pageShift = segmentShift - 12;
        _pageMask = (1UL << _pageShift) - 1;
        ulong count = (pages + _pageMask) >> _pageShift;
        if (count > MaxSegments)
        {
            throw new ArgumentOutOfRangeException(nameof(segmentShift), $"{count} segments of 2^{segmentShift} bytes would be needed; the RST holds {MaxSegments}.");
        }

        Pages = pages;
        SegmentShift = segmentShift;
        _table = new NativeBuffer(RstOffset + (MaxSegments * sizeof(ulong)), alignment: 4096);
        _rst = (ulong*)((byte*)_table.Pointer + RstOffset);
        _segments = new NativeBuffer[count];
        for (ulong i = 0; i < count; i++)
        {
            ulong segmentPages = Math.Min(_pageMask + 1, pages - (i << _pageShift));
            var segment = new NativeBuffer(checked((long)segmentPages * RmpConstants.EntrySize), alignment: HugePages.Size, hugePages: true);
            _segments[i] = segment;
            ulong mappedGiB = ((segmentPages << 12) + (1UL << 30) - 1) >> 30;
            _rst[i] = ((ulong)segment.Pointer & BaseMask) | (mappedGiB & 0xFFFFF);
        }
    }

    /// <inheritdoc />
    /// <remarks>0 once disposed, so a table's range checks refuse every pfn.</remarks>
    public ulong Pages { get; private set; }

    /// <summary>log2 of the bytes of host memory each segment covers.</summary>
    public int SegmentShift { get; }

    /// <summary>The table base: bookkeeping area, then the RST.</summary>
    public void* TableBase => _table.Pointer;

    /// <inheritdoc />
    public long MemoryBytes
    {
        get
        {
            long bytes = _table.Length;
            foreach (var s in _segments)
            {
                bytes += s.Length;
            }

            return bytes;
        }
    }

    /// <summary>The entry of <paramref name="pfn"/>, found through the RST as the CPU finds it.</summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public rmpentry_raw* Entry(ulong pfn)
    {
        ulong* rst = _rst;
        if (rst == null)
        {
            throw Disposal.Exception(this);
        }

        return (rmpentry_raw*)(rst[pfn >> _pageShift] & BaseMask) + (pfn & _pageMask);
    }

    /// <inheritdoc />
    public bool IsAssigned(ulong pfn) => (Entry(pfn)->lo & 1) != 0;

    /// <inheritdoc />
    public bool IsHuge(ulong region) => RawEntries.IsHuge(Entry(region << 9));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn) => RawEntries.Lookup(Entry(pfn), Entry(pfn & ~511UL));

    /// <inheritdoc />
    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(results.Length, pfns.Length, nameof(results));
        const int distance = 16;
        ref ulong first = ref MemoryMarshal.GetReference(pfns);
        for (int i = 0; i < pfns.Length; i++)
        {
            if (Sse.IsSupported && i + distance < pfns.Length)
            {
                ulong ahead = Unsafe.Add(ref first, i + distance);
                Sse.Prefetch0(Entry(ahead));
                Sse.Prefetch0(Entry(ahead & ~511UL));
            }

            results[i] = Lookup(Unsafe.Add(ref first, i));
        }
    }

    /// <inheritdoc />
    public rmpentry_raw Read(ulong pfn) => *Entry(pfn);

    /// <inheritdoc />
    public bool AnyAssigned(ulong region) => RawEntries.AnyAssigned(Entry(region << 9), (int)Math.Min(512, Pages - (region << 9)));

    /// <inheritdoc />
    public bool AnyImmutable(ulong region) => RawEntries.AnyImmutable(Entry(region << 9));

    /// <inheritdoc />
    public void Write4K(ulong pfn, rmpentry_raw entry) => *Entry(pfn) = entry;

    /// <inheritdoc />
    public void Write2M(ulong region, rmpentry_raw head) => RawEntries.Write2M(Entry(region << 9), head);

    /// <inheritdoc />
    public void Clear2M(ulong region) => RawEntries.Clear2M(Entry(region << 9));

    /// <inheritdoc />
    public void Smash(ulong region) => Entry(region << 9)->pagesize = false;

    /// <inheritdoc />
    public bool NoneAssigned(ulong pfn, ulong count)
    {
        for (ulong p = pfn, end = pfn + count; p < end;)
        {
            ulong n = Math.Min(end - p, 512 - (p & 511));
            if (RawEntries.AnyAssigned(Entry(p), (int)n))
            {
                return false;
            }

            p += n;
        }

        return true;
    }

    /// <inheritdoc />
    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => RawEntries.WriteRun4K(Entry(pfn), count, asid, gfn);

    /// <inheritdoc />
    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn)
        => RawEntries.TryValidateRun4K(Entry(pfn & ~511UL), Entry(pfn), count, asid, gfn);

    /// <inheritdoc />
    public void SetValidated(ulong pfn, bool validated) => Entry(pfn)->validated = validated;

    /// <inheritdoc />
    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn)
    {
        for (ulong p = pfn, end = pfn + count; p < end;)
        {
            ulong n = Math.Min(end - p, 512 - (p & 511));
            if (!RawEntries.IsGuestRun(Entry(p), n, asid, gfn + (p - pfn)))
            {
                return false;
            }

            p += n;
        }

        return true;
    }

    /// <inheritdoc />
    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        for (ulong p = pfn, end = pfn + count; p < end;)
        {
            ulong n = Math.Min(end - p, 512 - (p & 511));
            RawEntries.CountGuestEntries(Entry(p & ~511UL), Entry(p), n, asid, ref heads2M, ref entries4K);
            p += n;
        }
    }

    /// <inheritdoc />
    public void GuestMask(ulong region, uint asid, Span<ulong> mask)
        => RawEntries.GuestMask(Entry(region << 9), (int)Math.Min(512, Pages - (region << 9)), asid, mask);

    /// <summary>Frees the RST and every segment.</summary>
    /// <remarks>
    /// Later calls do nothing. Afterwards <see cref="Pages"/> is 0 and every member that reads or writes entries
    /// (<see cref="Entry"/> and <see cref="TableBase"/> included) throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        _rst = null;
        Pages = 0;
        foreach (var s in _segments)
        {
            s.Dispose();
        }

        _table.Dispose();
    }
}
