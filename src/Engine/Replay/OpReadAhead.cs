using System.Runtime.ExceptionServices;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Replay;

/// <summary>
/// The replay's reading stage on a thread of its own: reads the trace and decodes it into ops (<see cref="TraceOps"/>)
/// while the models apply the ops already decoded, handing them over in batches through a bounded queue. The ops, their
/// order and every statistic are the ones the reading stage gives on the models' thread; only when they are computed
/// changes.
/// </summary>
/// <remarks>
/// Memory is bounded: <see cref="Batches"/> batches of <see cref="BatchOps"/> ops circulate between the two threads
/// (about 0.8 MB). Damage the reader cannot skip ends the stream after the ops decoded before it
/// (<see cref="Error"/>); any other exception of the reading thread is rethrown by <see cref="Next"/> on the models'
/// thread. <see cref="Dispose"/> stops the reading thread and waits for it, so nothing touches the reader or the
/// <see cref="TraceOps"/> afterwards. One consumer thread; not otherwise thread-safe.
/// </remarks>
internal sealed class OpReadAhead : IDisposable
{
    /// <summary>Ops per batch.</summary>
    internal const int BatchOps = 1024;

    /// <summary>Batches in circulation: the reading thread may be this many batches ahead.</summary>
    internal const int Batches = 8;

    private readonly TraceOps _ops;
    private readonly ITraceReader _reader;
    private readonly Thread _thread;
    private readonly object _gate = new();
    private readonly Queue<Batch> _full = new(Batches);
    private readonly Stack<Batch> _free = new(Batches);
    private Batch? _current;
    private int _at;
    private bool _ended;   // under _gate: the reading thread published its last batch (or failed)
    private bool _stopped; // under _gate: the consumer wants no more
    private ExceptionDispatchInfo? _failure;
    private bool _disposed;

    /// <summary>Starts reading <paramref name="ops"/> (decoding <paramref name="reader"/>) on a new thread.</summary>
    public OpReadAhead(TraceOps ops, ITraceReader reader)
    {
        _ops = ops;
        _reader = reader;
        for (int i = 0; i < Batches; i++)
        {
            _free.Push(new Batch());
        }

        _thread = new Thread(Produce) { IsBackground = true, Name = "fastrmp replay reader" };
        _thread.Start();
    }

    /// <summary>Records read up to the end of the last batch taken.</summary>
    public long Records { get; private set; }

    /// <summary>Input bytes read up to the end of the last batch taken.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Why reading stopped before the end of the input (set once <see cref="Next"/> has returned false), or null.</summary>
    public TraceFormatException? Error { get; private set; }

    /// <summary>The next op; false at the end (or at damage: <see cref="Error"/>).</summary>
    /// <exception cref="Exception">What the reading thread failed with, other than damage in the trace.</exception>
    public bool Next(out ReplayOp op)
    {
        while (_current is null || _at == _current.Count)
        {
            if (!TakeFull())
            {
                op = default;
                return false;
            }
        }

        op = _current.Ops[_at++];
        return true;
    }

    /// <summary>Stops the reading thread (at its next op) and waits for it. Later calls do nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _thread.Join();
    }

    /// <summary>Hands the current batch back and waits for the next full one; false when the stream has ended.</summary>
    private bool TakeFull()
    {
        lock (_gate)
        {
            if (_current is not null)
            {
                _free.Push(_current);
                _current = null;
                Monitor.PulseAll(_gate);
            }

            while (_full.Count == 0 && !_ended)
            {
                Monitor.Wait(_gate);
            }

            if (_full.Count == 0)
            {
                _failure?.Throw();
                return false;
            }

            _current = _full.Dequeue();
        }

        _at = 0;
        Records = _current.Records;
        BytesRead = _current.BytesRead;
        Error ??= _current.Error;
        return true;
    }

    private void Produce()
    {
        try
        {
            bool more = true;
            while (more)
            {
                Batch? batch;
                lock (_gate)
                {
                    while (_free.Count == 0 && !_stopped)
                    {
                        Monitor.Wait(_gate);
                    }

                    if (_stopped)
                    {
                        return;
                    }

                    batch = _free.Pop();
                }

                batch.Count = 0;
                batch.Error = null;
                var ops = batch.Ops;
                while (batch.Count < ops.Length)
                {
                    try
                    {
                        more = _ops.MoveNext(out ops[batch.Count]);
                    }
                    catch (TraceFormatException ex)
                    {
                        batch.Error = ex; // what was decoded before the damage is still replayed
                        more = false;
                    }

                    if (!more || Volatile.Read(ref _stopped))
                    {
                        break;
                    }

                    batch.Count++;
                }

                batch.Records = _ops.Stats.Records;
                batch.BytesRead = _reader.Stats.BytesRead;
                lock (_gate)
                {
                    _full.Enqueue(batch);
                    _ended = !more;
                    Monitor.PulseAll(_gate);
                }
            }
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _failure = ExceptionDispatchInfo.Capture(ex);
                _ended = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private sealed class Batch
    {
        public readonly ReplayOp[] Ops = new ReplayOp[BatchOps];
        public int Count;
        public long Records;
        public long BytesRead;
        public TraceFormatException? Error;
    }
}
