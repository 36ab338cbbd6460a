namespace FastRmp.Interop.Tracing.Perf;

/// <summary>
/// Puts records back in timestamp order the way <c>perf</c> does: records wait in a window and, at each
/// <c>FINISHED_ROUND</c>, those not later than the newest time seen before the previous round come out sorted (ties in
/// file order).
/// </summary>
/// <remarks>
/// Source: the round-flush rule of tools/perf/util/ordered-events.c and session.c (<c>process_finished_round</c>),
/// Linux 6.18, read for the behaviour: the kernel writes each CPU's buffer in order, and perf record drains every
/// buffer once per round, so a record can be older than records of the previous round but not of the round before.
/// The window is bounded (<see cref="MaxBytes"/> payload bytes, <see cref="MaxEntries"/> records): a file without
/// rounds, or with huge ones, gets its window flushed whole when full, and the reader counts what then comes out
/// late as unordered. Memory: two arrays of entries and two payload arenas. Not thread-safe.
/// </remarks>
internal sealed class PerfEventQueue
{
    /// <summary>The largest payload bytes held for ordering.</summary>
    public const int MaxBytes = 64 << 20;

    /// <summary>The most records held for ordering.</summary>
    public const int MaxEntries = 1 << 20;

    /// <summary>Time, then file order. A cached delegate: sorting with an IComparer would allocate one per round.</summary>

    private readonly int _maxEntries;
    private readonly int _maxBytes;
    private PerfEntry[] _pending = new PerfEntry[256];
    private int _pendingCount;
    private byte[] _arena = new byte[64 * 1024];
    private int _arenaUsed;

    private PerfEntry[] _ready = new PerfEntry[256];
    private int _readyCount;
    private int _readyPos;
    private byte[] _readyArena = new byte[64 * 1024];

    /// <summary>Creates a queue with the default window (tests pass a small one to exercise the window's edge).</summary>
    public PerfEventQueue(int maxEntries = MaxEntries, int maxBytes = MaxBytes)
    {
        _maxEntries = Math.Max(1, maxEntries);
        _maxBytes = Math.Max(1, maxBytes);
    }

    private ulong _maxTime;
    private ulong _nextFlush;
    private long _seq;
    private PerfEntry[] _scratch = [];

    /// <summary>The newest time delivered so far (records older than it, queued later, come out of order).</summary>
    public ulong LastDelivered { get; private set; }

    /// <summary>True once something was delivered.</summary>
    public bool AnyDelivered { get; private set; }

    /// <summary>Records held, waiting for their round.</summary>
    public int PendingCount => _pendingCount;

    /// <summary>Times the window was flushed whole because it was full.</summary>
    public long Overflows { get; private set; }

    /// <summary>True when the window is full and must be flushed before more is added.</summary>
    public bool IsFull => _pendingCount >= _maxEntries || _arenaUsed >= _maxBytes;

    /// <summary>Adds a record; <paramref name="payload"/> is copied.</summary>
    public void Add(PerfEntry entry, ReadOnlySpan<byte> payload)
    {
        if (_pendingCount == _pending.Length)
        {
            Array.Resize(ref _pending, _pending.Length * 2);
        }

        if (_arena.Length - _arenaUsed < payload.Length)
        {
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaUsed + payload.Length));
        }

        payload.CopyTo(_arena.AsSpan(_arenaUsed));
        entry.Start = _arenaUsed;
        entry.Length = payload.Length;
        entry.Seq = _seq++;
        _arenaUsed += payload.Length;
        _pending[_pendingCount++] = entry;
        if (entry.Time > _maxTime)
        {
            _maxTime = entry.Time;
        }
    }

    /// <summary>A <c>FINISHED_ROUND</c>: releases the records up to the newest time of the previous round.</summary>
    public void FinishRound()
    {
        Release(_nextFlush, all: false);
        _nextFlush = _maxTime;
    }

    /// <summary>Releases everything held (the end of the data, or a full window).</summary>
    public void ReleaseAll(bool overflow)
    {
        if (overflow)
        {
            Overflows++;
        }

        Release(ulong.MaxValue, all: true);
        _nextFlush = _maxTime;
    }

    /// <summary>Takes the next released record; false when none is waiting.</summary>
    public bool TryTake(out PerfEntry entry, out ReadOnlySpan<byte> payload)
    {
        if (_readyPos >= _readyCount)
        {
            entry = default;
            payload = default;
            return false;
        }

        entry = _ready[_readyPos++];
        payload = _readyArena.AsSpan(entry.Start, entry.Length);
        if (!AnyDelivered || entry.Time > LastDelivered)
        {
            LastDelivered = entry.Time;
        }

        AnyDelivered = true;
        return true;
    }

    /// <summary>True when released records wait to be taken.</summary>
    public bool HasReady => _readyPos < _readyCount;

    private void Release(ulong limit, bool all)
    {
        // Called only when the ready batch is drained: its arrays are reused.
        _readyCount = 0;
        _readyPos = 0;
        int readyBytes = 0;
        int kept = 0;
        for (int i = 0; i < _pendingCount; i++)
        {
            ref var e = ref _pending[i];
            if (all || e.Time <= limit)
            {
                if (_readyCount == _ready.Length)
                {
                    Array.Resize(ref _ready, _ready.Length * 2);
                }

                _ready[_readyCount++] = e;
                readyBytes += e.Length;
            }
        }

        if (_readyCount == 0)
        {
            return;
        }

        var ready = _ready.AsSpan(0, _readyCount);
        if (!IsSorted(ready))
        {
            MergeRuns(ready, ref _scratch);
        }

        if (_readyArena.Length < readyBytes)
        {
            _readyArena = new byte[Math.Max(readyBytes, _readyArena.Length * 2)];
        }

        int at = 0;
        for (int i = 0; i < _readyCount; i++)
        {
            ref var e = ref _ready[i];
            _arena.AsSpan(e.Start, e.Length).CopyTo(_readyArena.AsSpan(at));
            e.Start = at;
            at += e.Length;
        }

        // Keep the rest in file order, moved down in the arena (each moves to a lower offset, so in order is safe).
        int used = 0;
        for (int i = 0; i < _pendingCount; i++)
        {
            var e = _pending[i];
            if (all || e.Time <= limit)
            {
                continue;
            }

            _arena.AsSpan(e.Start, e.Length).CopyTo(_arena.AsSpan(used));
            e.Start = used;
            used += e.Length;
            _pending[kept++] = e;
        }

        _pendingCount = kept;
        _arenaUsed = used;
    }

    /// <summary>
    /// Sorts entries taken in file order (Seq rising) by (Time, Seq): a natural merge sort. perf writes each CPU's ring
    /// buffer in chunks, so a round is a few runs already in time order; finding the runs and merging neighbours pairwise
    /// is O(n log runs), where a comparison sort of the whole round was 60 % of reading a 4.45 M-sample perf.data
    /// (perf annotate). Ties keep file order: a merge takes from the left run (lower Seq) first.
    /// </summary>
    internal static void MergeRuns(Span<PerfEntry> entries, ref PerfEntry[] scratch)
    {
        if (scratch.Length < entries.Length)
        {
            scratch = new PerfEntry[Math.Max(entries.Length, scratch.Length * 2)];
        }

        var runs = new List<int>(16) { 0 };
        for (int i = 1; i < entries.Length; i++)
        {
            if (entries[i].Time < entries[i - 1].Time)
            {
                runs.Add(i);
            }
        }

        runs.Add(entries.Length);
        Span<PerfEntry> src = entries;
        Span<PerfEntry> dst = scratch.AsSpan(0, entries.Length);
        bool inScratch = false;
        while (runs.Count > 2)
        {
            var merged = new List<int>((runs.Count / 2) + 2) { 0 };
            for (int r = 0; r + 1 < runs.Count; r += 2)
            {
                int lo = runs[r], mid = runs[r + 1], hi = r + 2 < runs.Count ? runs[r + 2] : mid;
                int a = lo, b = mid, o = lo;
                while (a < mid && b < hi)
                {
                    dst[o++] = src[b].Time < src[a].Time ? src[b++] : src[a++];
                }

                src[a..mid].CopyTo(dst[o..]);
                o += mid - a;
                src[b..hi].CopyTo(dst[o..]);
                merged.Add(hi);
            }

            if (merged[^1] != entries.Length)
            {
                merged.Add(entries.Length);
            }

            runs = merged;
            var t = src;
            src = dst;
            dst = t;
            inScratch = !inScratch;
        }

        if (inScratch)
        {
            src.CopyTo(entries);
        }
    }

    /// <summary>True when the entries (taken in file order, so their Seq rises) already rise in time: one CPU's records, or a quiet round.</summary>
    private static bool IsSorted(ReadOnlySpan<PerfEntry> entries)
    {
        for (int i = 1; i < entries.Length; i++)
        {
            if (entries[i].Time < entries[i - 1].Time)
            {
                return false;
            }
        }

        return true;
    }
}
