using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRmp.Engine.Memory;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

/// <summary>
/// A page-order (buddy) allocator over a range of host page frames: blocks of 2^order pages, orders
/// 0..<see cref="MaxOrder"/>, naturally aligned by absolute pfn, buddies coalesced eagerly on free.
/// </summary>
/// <remarks>
/// <para>
/// Models the zone free-area buddy system of mm/page_alloc.c (Linux 6.18): <c>__rmqueue_smallest</c> takes the
/// smallest order with a free block and <c>expand</c> splits it down, keeping the upper halves free;
/// <c>__free_one_page</c> merges a freed block with its buddy (pfn ^ 2^order) while the buddy is free at the same
/// order. Alignment is by absolute pfn as in the kernel, so a range that starts at an unaligned base pfn or whose
/// size is not a multiple of the largest block is covered by smaller blocks at its head and tail. Not modelled:
/// per-cpu lists, migrate types, watermarks, zones, NUMA.
/// </para>
/// <para>
/// Metadata (about 3 bits per 4 KiB page, in one anonymous mapping advised for huge pages):
/// <list type="bullet">
/// <item>free bitmap per order k: bit i set = the order-k block i is a free block; above each, summary levels
/// where a bit says "that word below is non-zero", so the first free block is found with one
/// <see cref="BitOperations.TrailingZeroCount(ulong)"/> per level;</item>
/// <item>split bitmap per order k &gt;= 1: bit i set = the order-k block i is split into two order-(k-1) blocks
/// (or straddles the edge of the range, which keeps it split forever).</item>
/// </list>
/// A block is therefore free, split, allocated (neither, and its parent split or it is of the largest order) or
/// inside a larger block. That answers "is this a live allocated block of that order" in three bit tests, so
/// wrong frees are refused in O(1).
/// </para>
/// <para>
/// Not thread-safe. Public calls validate their arguments once; invalid calls throw and leave the allocator
/// unchanged, exhaustion is a <see langword="false"/> result. No managed allocation per operation.
/// </para>
/// </remarks>
public sealed unsafe partial class BuddyAllocator : IFolioAllocator, IDisposable
{
    /// <summary>The default largest order, as in Linux (MAX_PAGE_ORDER = 10, 4 MiB blocks).</summary>
    public const int DefaultMaxOrder = 10;

    /// <summary>The largest supported order (2^18 pages = 1 GiB blocks).</summary>
    public const int LimitMaxOrder = 18;

    // Enough summary levels for 64^6 words = 2^42 pages (16 EiB of 4 KiB pages would need more; 2^42 is 16 PiB).
    private const int LimitDepth = 6;

    private readonly NativeBuffer _metadata;
    private readonly nint[] _levels;       // [order * _depth + level] -> ulong*; level 0 is the free bitmap
    private readonly nint[] _splits;       // [order] -> ulong* (order 0 unused)
    private readonly OrderState[] _orders;
    private readonly int _depth;
    private readonly int _maxOrder;
    private readonly ulong _origin;        // base pfn rounded down to 2^MaxOrder; block i of order k starts at _origin + (i << k)
    private readonly ulong _basePfn;
    private readonly ulong _endPfn;
    private readonly ulong _spanPages;     // [_origin, _origin + _spanPages) is covered by whole blocks of every order
    private bool _disposed;
    private ulong _nonEmptyOrders;         // bit k set = at least one free block of order k
    private long _freePages;

    /// <summary>Builds an allocator over pfns [<paramref name="basePfn"/>, <paramref name="basePfn"/> + <paramref name="pageCount"/>), all free.</summary>
    /// <param name="basePfn">The first host page frame of the range; need not be aligned.</param>
    /// <param name="pageCount">Pages in the range (at least 1); need not be a multiple of 2^<paramref name="maxOrder"/>.</param>
    /// <param name="maxOrder">The largest block order, 0..<see cref="LimitMaxOrder"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An empty range, a range past 2^52 pfns, or an order outside 0..18.</exception>
    public BuddyAllocator(kvm_pfn_t basePfn, ulong pageCount, int maxOrder = DefaultMaxOrder)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pageCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, MaxPfn);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(basePfn.Value, MaxPfn - pageCount, nameof(basePfn));
        ArgumentOutOfRangeException.ThrowIfNegative(maxOrder);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxOrder, LimitMaxOrder);

        _maxOrder = maxOrder;
        _basePfn = basePfn.Value;
        _endPfn = basePfn.Value + pageCount;
        _origin = _basePfn & ~((1UL << maxOrder) - 1);
        var layout = new Layout(_origin, _endPfn, maxOrder);
        _depth = layout.Depth;
        _spanPages = layout.SpanPages;
        _metadata = NativeBuffer.MapAnonymous(layout.TotalBytes);
        _levels = new nint[(maxOrder + 1) * _depth];
        _splits = new nint[maxOrder + 1];
        _orders = new OrderState[maxOrder + 1];
        byte* start = (byte*)_metadata.Pointer;
        for (int k = 0; k <= maxOrder; k++)
        {
            for (int l = 0; l < _depth; l++)
            {
                _levels[(k * _depth) + l] = (nint)(start + layout.LevelOffset(k, l));
            }

            _splits[k] = k == 0 ? 0 : (nint)(start + layout.SplitOffset(k));
        }

        MarkEdgesSplit();
        SeedFreeBlocks();
    }

    // 2^52 pfns = 2^64 bytes of physical address space.
    private const ulong MaxPfn = 1UL << 52;

    /// <summary>The largest block order.</summary>
    public int MaxOrder => _maxOrder;

    /// <summary>The first page frame of the range.</summary>
    public kvm_pfn_t BasePfn => new(_basePfn);

    /// <summary>The page frame just past the range.</summary>
    public kvm_pfn_t EndPfn => new(_endPfn);

    /// <summary>Pages in the range.</summary>
    public ulong PageCount => _endPfn - _basePfn;

    /// <summary>Pages in free blocks.</summary>
    public ulong FreePages => (ulong)_freePages;

    /// <summary>Pages in allocated or claimed blocks.</summary>
    public ulong AllocatedPages => PageCount - (ulong)_freePages;

    /// <summary>Bytes of unmanaged metadata (bitmaps and summaries) behind this allocator.</summary>
    public long MetadataBytes => _metadata.Length;

    /// <summary>Frees the metadata. Later calls to any operation throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        Array.Clear(_levels);
        Array.Clear(_splits);
        _metadata.Dispose();
    }

    /// <summary>Unmanaged metadata bytes an allocator over this range would use, without building it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">As for the constructor.</exception>
    public static long MetadataBytesFor(kvm_pfn_t basePfn, ulong pageCount, int maxOrder = DefaultMaxOrder)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pageCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, MaxPfn);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(basePfn.Value, MaxPfn - pageCount, nameof(basePfn));
        ArgumentOutOfRangeException.ThrowIfNegative(maxOrder);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxOrder, LimitMaxOrder);
        ulong origin = basePfn.Value & ~((1UL << maxOrder) - 1);
        return new Layout(origin, basePfn.Value + pageCount, maxOrder).TotalBytes;
    }

    // Blocks of order k >= 1 that straddle an edge of the range stay split forever: their in-range children are
    // roots, and the out-of-range parts are never free, so nothing ever merges across an edge.
    private void MarkEdgesSplit()
    {
        for (int k = 1; k <= _maxOrder; k++)
        {
            ulong size = 1UL << k;
            if ((_basePfn & (size - 1)) != 0)
            {
                SetSplit(k, Index(_basePfn, k));
            }

            if ((_endPfn & (size - 1)) != 0)
            {
                SetSplit(k, Index(_endPfn, k));
            }
        }
    }

    // The canonical cover of the range: the largest aligned blocks (order <= MaxOrder) from left to right.
    private void SeedFreeBlocks()
    {
        ulong pfn = _basePfn;
        while (pfn < _endPfn)
        {
            int alignment = pfn == 0 ? _maxOrder : BitOperations.TrailingZeroCount(pfn);
            int fits = BitOperations.Log2(_endPfn - pfn);
            int order = Math.Min(_maxOrder, Math.Min(alignment, fits));
            SetFree(order, Index(pfn, order));
            _freePages += 1L << order;
            pfn += 1UL << order;
        }
    }

    // Every public operation checks the order against the limit and this flag in the same branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsBadOrder(int order) => (uint)order > (uint)_maxOrder || _disposed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nuint Index(ulong pfn, int order) => (nuint)((pfn - _origin) >> order);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong PfnOf(nuint index, int order) => _origin + ((ulong)index << order);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref OrderState State(int order) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_orders), order);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong* Level(int order, int level) =>
        (ulong*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_levels), (order * _depth) + level);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong* Split(int order) => (ulong*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_splits), order);

    private struct OrderState
    {
        public nuint Hint;          // the most recently freed or split-off block of this order: tried first
        public long FreeBlocks;
        public BuddyOrderCounters Counters;
    }
}
