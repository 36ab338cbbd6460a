namespace FastRmp.Interop.Tracing;

/// <summary>Called once per record by <see cref="TraceScan.Run{TState}"/> with the state of the part being read.</summary>
/// <typeparam name="TState">The caller's per-part state (counts, a column writer, ...).</typeparam>
public delegate void TraceRecordVisitor<in TState>(TState state, in TraceRecord record);

/// <summary>
/// Reads every record of a trace once, on all the machine's cores where the input is made of independent parts, for
/// work that does not need one global time order: counting, statistics, per-event-type columns.
/// </summary>
/// <remarks>
/// A trace.dat is read as one part per CPU (each CPU's ring buffer is its own stream in the file: traces.md 2.2/2.3),
/// the parts shared out over up to <c>maxDegreeOfParallelism</c> threads, largest first; each part's records arrive in
/// that CPU's time order, with their own decompression and page buffers, and nothing is shared between threads but the
/// file's read-only metadata. Every other input (text, perf.data, whose samples of all CPUs share one stream) is one
/// part read on the calling thread. Each part has its own state, so the visitor needs no locks; the parts' statistics
/// are merged in CPU order, so the result does not depend on the number of threads. Thread-safe: it shares nothing
/// between calls.
/// </remarks>
public static class TraceScan
{
    /// <summary>
    /// Reads all records of <paramref name="reader"/> (opened by <see cref="TraceFile"/>, not yet read from), calling
    /// <paramref name="visit"/> with a state made by <paramref name="createState"/> for each part.
    /// </summary>
    /// <param name="reader">The trace; a trace.dat's records are read through per-CPU readers of the same file, the others through it.</param>
    /// <param name="createState">Makes one part's state (called on the calling thread, in part order).</param>
    /// <param name="visit">Called for each record of a part with that part's state; never for one state on two threads at once.</param>
    /// <param name="maxDegreeOfParallelism">Threads to use at most; 0 for one per processor.</param>
    /// <returns>The states in part order (CPU order for a trace.dat) and the merged statistics.</returns>
    /// <exception cref="TraceFormatException">Damage that cannot be skipped in some part. An exception in a part (the reader's or the visitor's) is thrown as it is once every part has been read, the first part's first.</exception>
    public static TraceScanResult<TState> Run<TState>(ITraceReader reader, Func<TState> createState, TraceRecordVisitor<TState> visit, int maxDegreeOfParallelism = 0)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(createState);
        ArgumentNullException.ThrowIfNull(visit);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDegreeOfParallelism);
        var parts = reader is ISplittableReader s ? s.Split() : null;
        if (parts is null)
        {
            var state = createState();
            ReadAll(reader, state, visit);
            return new TraceScanResult<TState>([state], reader.Stats);
        }

        try
        {
            var states = new TState[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                states[i] = createState();
            }

            var errors = new Exception?[parts.Length];
            int[] order = [.. Enumerable.Range(0, parts.Length).OrderByDescending(i => DataBytes(parts[i])).ThenBy(i => i)];
            int next = -1;
            int threads = Math.Min(parts.Length, maxDegreeOfParallelism == 0 ? Environment.ProcessorCount : maxDegreeOfParallelism);
            foreach (var part in parts)
            {
                if (part is TraceDatReader t)
                {
                    // With a thread per core busy reading parts, decompressing ahead on the pool only competes with them.
                    t.Prefetch = threads < 2;
                }
            }

            Parallel.For(0, Math.Max(1, threads), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, _ =>
            {
                int k;
                while ((k = Interlocked.Increment(ref next)) < order.Length)
                {
                    int i = order[k];
                    try
                    {
                        ReadAll(parts[i], states[i], visit);
                    }
                    catch (Exception ex)
                    {
                        errors[i] = ex;
                    }
                }
            });

            var stats = new TraceReadStats { FormatErrors = reader.Stats.FormatErrors };
            foreach (var part in parts)
            {
                stats.Add(part.Stats);
            }

            if (Array.Find(errors, e => e is not null) is { } first)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            }

            return new TraceScanResult<TState>(states, stats);
        }
        finally
        {
            foreach (var part in parts)
            {
                part.Dispose();
            }
        }
    }

    private static void ReadAll<TState>(ITraceReader reader, TState state, TraceRecordVisitor<TState> visit)
    {
        if (reader is TraceDatReader dat)
        {
            // The sealed type: a direct call per record instead of an interface dispatch.
            while (dat.MoveNext(out var record))
            {
                visit(state, record);
            }

            return;
        }

        while (reader.MoveNext(out var record))
        {
            visit(state, record);
        }
    }

    private static long DataBytes(ITraceReader part) => part is TraceDatReader t ? t.Buffer.Cpus.Sum(c => c.Size) : 0;
}

/// <summary>What <see cref="TraceScan.Run{TState}"/> read: the parts' states and the statistics of all parts. Not changed after the scan: safe to read from any thread.</summary>
/// <typeparam name="TState">The caller's per-part state.</typeparam>
public sealed class TraceScanResult<TState>
{
    internal TraceScanResult(IReadOnlyList<TState> parts, TraceReadStats stats)
    {
        Parts = parts;
        Stats = stats;
    }

    /// <summary>One state per part, in part order (CPU order for a trace.dat; one state for other inputs).</summary>
    public IReadOnlyList<TState> Parts { get; }

    /// <summary>Lost events, damage and unknown records of every part (damage in part order).</summary>
    public TraceReadStats Stats { get; }
}
