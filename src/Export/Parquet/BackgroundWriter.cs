using System.Collections.Concurrent;

namespace FastRmp.Export.Parquet;

/// <summary>
/// Encodes and writes full row blocks on a thread of its own while the reading thread fills the next ones (a trace
/// is read and its Parquet encoded on two cores). At most <see cref="Depth"/> blocks wait: a reader faster than the
/// writer then waits, which bounds memory.
/// </summary>
internal sealed class BackgroundWriter : IDisposable
{
    public const int Depth = 4;

    private readonly BlockingCollection<(DatasetTable Table, RowBlock Block, Action<RowBlock>? Recycle)> _queue = new(Depth);
    private readonly Thread _thread;
    private Exception? _error;
    private long _busyTicks;
    private bool _completed;

    public BackgroundWriter()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "fastrmp parquet writer" };
        _thread.Start();
    }

    /// <summary>Time the writer thread spent encoding and writing (read after <see cref="Complete"/>).</summary>
    public TimeSpan Busy => TimeSpan.FromTicks(Volatile.Read(ref _busyTicks));

    /// <summary>Queues <paramref name="block"/> for <paramref name="table"/>; <paramref name="recycle"/> gets it back once written.</summary>
    public void Enqueue(DatasetTable table, RowBlock block, Action<RowBlock>? recycle)
    {
        ThrowIfFailed();
        _queue.Add((table, block, recycle));
    }

    /// <summary>Writes what is queued, closes <paramref name="tables"/> on the writer's thread and waits; rethrows a write error.</summary>
    public void Complete(IEnumerable<DatasetTable> tables)
    {
        if (!_completed)
        {
            _completed = true;
            foreach (var table in tables)
            {
                _queue.Add((table, null!, null));
            }

            _queue.CompleteAdding();
            _thread.Join();
        }

        ThrowIfFailed();
    }

    public void Dispose()
    {
        if (!_completed)
        {
            _completed = true;
            _queue.CompleteAdding();
            _thread.Join();
        }

        _queue.Dispose();
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _error) is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private void Run()
    {
        foreach (var (table, block, recycle) in _queue.GetConsumingEnumerable())
        {
            if (_error is not null)
            {
                continue; // drain, so the reading thread never waits on a full queue
            }

            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                if (block is null)
                {
                    table.Dispose();
                    continue;
                }

                table.Write(block);
                block.Count = 0;
                recycle?.Invoke(block);
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _error, ex);
            }
            finally
            {
                Volatile.Write(ref _busyTicks, _busyTicks + System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
            }
        }
    }
}
