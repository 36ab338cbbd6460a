using System.Collections.Concurrent;

namespace FastRmp.Export.Parquet;

/// <summary>
/// Encodes and writes full row blocks on <see cref="Lanes"/> threads of their own while the reading thread fills the
/// next ones: a trace is read on one core and its Parquet encoded on the others. A table's blocks go to the lanes in
/// turn (block k to lane k mod <see cref="Lanes"/>), each lane writing its own part files of that table
/// (<see cref="DatasetTable"/>), so which rows land in which file depends only on the input, never on the timing. At
/// most <see cref="Depth"/> blocks wait per lane: a reader faster than the writers then waits, which bounds memory.
/// </summary>
internal sealed class BackgroundWriter : IDisposable
{
    /// <summary>Encoding threads, and the part files a large table is written to at a time.</summary>
    public const int Lanes = 2;

    public const int Depth = 4;

    private readonly Lane[] _lanes = new Lane[Lanes];
    private Exception? _error;
    private bool _completed;

    public BackgroundWriter()
    {
        for (int i = 0; i < Lanes; i++)
        {
            _lanes[i] = new Lane(this, i);
        }
    }

    /// <summary>Time the writer threads spent encoding and writing, summed (read after <see cref="Complete"/>).</summary>
    public TimeSpan Busy => TimeSpan.FromTicks(_lanes.Sum(l => Volatile.Read(ref l.BusyTicks)));

    /// <summary>Queues <paramref name="block"/> for <paramref name="table"/>'s next lane; <paramref name="recycle"/> gets it back once written (on that lane's thread).</summary>
    public void Enqueue(DatasetTable table, RowBlock block, Action<RowBlock>? recycle)
    {
        ThrowIfFailed();
        _lanes[table.NextLane()].Queue.Add((table, block, recycle));
    }

    /// <summary>Writes what is queued, closes <paramref name="tables"/> (each lane its own files) and waits; rethrows a write error.</summary>
    public void Complete(IEnumerable<DatasetTable> tables)
    {
        if (!_completed)
        {
            _completed = true;
            var all = tables.ToList();
            foreach (var lane in _lanes)
            {
                foreach (var table in all)
                {
                    lane.Queue.Add((table, null, null));
                }
            }

            Stop();
        }

        ThrowIfFailed();
    }

    public void Dispose()
    {
        if (!_completed)
        {
            _completed = true;
            Stop();
        }

        foreach (var lane in _lanes)
        {
            lane.Queue.Dispose();
        }
    }

    private void Stop()
    {
        foreach (var lane in _lanes)
        {
            lane.Queue.CompleteAdding();
        }

        foreach (var lane in _lanes)
        {
            lane.Thread.Join();
        }
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _error) is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private sealed class Lane
    {
        private readonly BackgroundWriter _owner;
        private readonly int _index;
        public long BusyTicks;

        public Lane(BackgroundWriter owner, int index)
        {
            _owner = owner;
            _index = index;
            Thread = new Thread(Run) { IsBackground = true, Name = $"fastrmp parquet writer {index}" };
            Thread.Start();
        }

        public BlockingCollection<(DatasetTable Table, RowBlock? Block, Action<RowBlock>? Recycle)> Queue { get; } = new(Depth);

        public Thread Thread { get; }

        private void Run()
        {
            foreach (var (table, block, recycle) in Queue.GetConsumingEnumerable())
            {
                if (Volatile.Read(ref _owner._error) is not null)
                {
                    continue; // drain, so the reading thread never waits on a full queue
                }

                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    if (block is null)
                    {
                        table.Close(_index);
                        continue;
                    }

                    table.Write(_index, block);
                    block.Count = 0;
                    recycle?.Invoke(block);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref _owner._error, ex, null);
                }
                finally
                {
                    Volatile.Write(ref BusyTicks, BusyTicks + System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
                }
            }
        }
    }
}
