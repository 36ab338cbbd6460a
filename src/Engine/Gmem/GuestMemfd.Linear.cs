using System.Runtime.CompilerServices;

namespace FastRmp.Engine.Gmem;

public sealed unsafe partial class GuestMemfd
{
    private const ulong OrderBits = 0x1FUL << OrderShift;

    // Per page-cache chunk: its entries while they are one linear run and the chunk has no buffer yet.
    private readonly LinearChunk[] _linear;

    /// <summary>Page-cache chunks that have a buffer.</summary>
    internal int BufferedChunks => _chunkTable.AllocatedChunks;

    /// <summary>Keep chunks as linear runs where possible (default); false gives every chunk a buffer (tests compare both).</summary>
    internal bool LinearChunks { get; set; } = true;

    /// <summary>
    /// A page-cache chunk without a buffer whose only entries, [First, First + Count) of the chunk, belong to folios
    /// of one order with pfns Pfn, Pfn + 1, ...: the shape a guest's memory takes when its folios are allocated in
    /// index order and the allocator hands out consecutive frames. The entries carry <see cref="Flags"/> (order,
    /// present, and up to date once prepared), except those of the last folio (<see cref="TailCount"/> entries),
    /// which carry <see cref="TailFlags"/>: get_pfn adds a folio and marks it up to date one step later. Anything else
    /// done to the chunk gives it its buffer first (<see cref="UnpackLinear"/>).
    /// </summary>
    private struct LinearChunk
    {
        public ulong First;
        public ulong Count;
        public ulong Pfn;
        public ulong Flags;
        public ulong TailFlags;
        public ulong TailCount;
    }

    // The entry at index of a chunk without a buffer: from its linear run, else 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LinearEntry(ulong index)
    {
        ref var run = ref _linear[index >> ChunkShift];
        ulong k = (index & ((1UL << ChunkShift) - 1)) - run.First;
        return k >= run.Count ? 0 : ((run.Pfn + k) << PfnShift) | (k >= run.Count - run.TailCount ? run.TailFlags : run.Flags);
    }

    // How many entries from index on (at most max, inside the chunk) of a chunk without a buffer are empty.
    private ulong LinearEmptyRun(ulong index, ulong max)
    {
        ref var run = ref _linear[index >> ChunkShift];
        ulong offset = index & ((1UL << ChunkShift) - 1);
        if (run.Count == 0 || offset >= run.First + run.Count)
        {
            return max;
        }

        return Math.Min(max, offset < run.First ? run.First - offset : 0);
    }

    // True when an entry of [index, index + count) (inside one chunk without a buffer) belongs to its linear run.
    private bool LinearOverlaps(ulong index, ulong count)
    {
        ref var run = ref _linear[index >> ChunkShift];
        ulong offset = index & ((1UL << ChunkShift) - 1);
        return run.Count != 0 && offset < run.First + run.Count && run.First < offset + count;
    }

    /// <summary>
    /// Adds <paramref name="count"/> entries for folios of <paramref name="folioPages"/> pages each, with pfns from
    /// <paramref name="pfn"/> and entry bits <paramref name="flags"/>, at <paramref name="index"/> to the linear run of
    /// a chunk without a buffer (starting it if the chunk is empty). False, with nothing changed, when they would not
    /// continue the run (another index, pfn or folio order, other bits inside the run, the end of the chunk): the
    /// caller writes them into the buffer.
    /// </summary>
    private bool TryAppendLinear(ulong index, ulong pfn, ulong count, ulong flags, ulong folioPages)
    {
        ulong chunk = index >> ChunkShift, offset = index & ((1UL << ChunkShift) - 1);
        if (!LinearChunks || _chunks[chunk] != null || offset + count > 1UL << ChunkShift || count == 0)
        {
            return false;
        }

        ref var run = ref _linear[chunk];
        if (run.Count == 0)
        {
            run = new LinearChunk { First = offset, Count = count, Pfn = pfn, Flags = flags, TailFlags = flags, TailCount = folioPages };
            return true;
        }

        // The old last folio and all new folios but the last join the body, whose bits must then be uniform.
        ulong body = run.Count == run.TailCount ? run.TailFlags : run.Flags;
        if (offset != run.First + run.Count || pfn != run.Pfn + run.Count || run.TailFlags != body
            || ((flags ^ body) & OrderBits) != 0 || (count > folioPages && flags != body))
        {
            return false;
        }

        run.Flags = body;
        run.TailFlags = flags;
        run.TailCount = folioPages;
        run.Count += count;
        return true;
    }

    // ORs bits into the entries of the folio of `pages` pages at head when it is the last folio of a linear run
    // (get_pfn marking its new folio up to date).
    private bool TrySetTailBits(ulong head, ulong pages, ulong bits)
    {
        ulong chunk = head >> ChunkShift;
        ref var run = ref _linear[chunk];
        if (_chunks[chunk] != null || run.Count == 0 || pages != run.TailCount
            || (head & ((1UL << ChunkShift) - 1)) != run.First + run.Count - run.TailCount)
        {
            return false;
        }

        run.TailFlags |= bits;
        return true;
    }

    // The chunk just got its (zeroed) buffer: write the entries its linear run stood for.
    private void UnpackLinear(ulong chunk, ulong* entries)
    {
        ref var run = ref _linear[chunk];
        for (ulong k = 0; k < run.Count; k++)
        {
            entries[run.First + k] = ((run.Pfn + k) << PfnShift) | (k >= run.Count - run.TailCount ? run.TailFlags : run.Flags);
        }

        run = default;
    }
}
