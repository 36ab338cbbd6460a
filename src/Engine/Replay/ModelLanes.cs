using System.Runtime.ExceptionServices;

namespace FastRmp.Engine.Replay;

/// <summary>
/// Applies a replay's ops to its models on several threads (<see cref="Replayer.ModelThreads"/>): the replaying thread
/// appends each op with its VM's sessions to a batch, and every lane applies every op of the batch to its share of
/// those sessions (session i to lane i mod <see cref="Count"/>), in order, prefetching the lines the faults a few ops
/// ahead will read, as the one-thread loop does. Each model sees exactly the ops it sees on one thread, in the same
/// order, and models share nothing, so the results are the same.
/// </summary>
/// <remarks>
/// Memory is bounded: <see cref="Batches"/> batches of <see cref="BatchOps"/> ops circulate. A lane's exception is
/// rethrown by <see cref="Add"/> or <see cref="Drain"/> on the replaying thread. <see cref="Dispose"/> stops the
/// lanes (after the batch each is applying) and waits for them. The replaying thread is the only caller.
/// </remarks>
internal sealed unsafe class ModelLanes : IDisposable
{
    internal const int BatchOps = 256;
    internal const int Batches = 8;
    private const int PrefetchDistance = 8;

    private readonly Lane[] _lanes;
    private readonly object _gate = new();
    private readonly Stack<Batch> _free = new(Batches);
    private Batch _filling;
    private long _published;  // batches handed to the lanes (under _gate)
    private ExceptionDispatchInfo? _failure;
    private bool _stopped;
    private bool _disposed;

    public ModelLanes(int count, int maxLinesPerOp)
    {
        for (int i = 0; i < Batches; i++)
        {
            _free.Push(new Batch());
        }

        _filling = _free.Pop();
        _lanes = new Lane[count];
        for (int i = 0; i < count; i++)
        {
            _lanes[i] = new Lane(this, i, maxLinesPerOp);
        }
    }

    /// <summary>Lanes (threads) applying ops.</summary>
    public int Count => _lanes.Length;

    /// <summary>Queues <paramref name="op"/> for every session of <paramref name="sessions"/>.</summary>
    public void Add(in ReplayOp op, ReplaySession[] sessions)
    {
        var batch = _filling;
        batch.Ops[batch.Count] = op;
        batch.Sessions[batch.Count] = sessions;
        if (++batch.Count == BatchOps)
        {
            Publish();
        }
    }

    /// <summary>Hands over what is queued and waits until every lane has applied it; rethrows a lane's exception.</summary>
    public void Drain()
    {
        if (_filling.Count > 0)
        {
            Publish();
        }

        lock (_gate)
        {
            while (_failure is null && _lanes.Any(l => l.Done < _published))
            {
                Monitor.Wait(_gate);
            }

            _failure?.Throw();
        }
    }

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

        foreach (var lane in _lanes)
        {
            lane.Thread.Join();
        }
    }

    /// <summary>Hands the batch being filled to every lane and takes a free one (waiting for the slowest lane if none is free).</summary>
    private void Publish()
    {
        lock (_gate)
        {
            _failure?.Throw();
            _filling.Pending = _lanes.Length;
            _published++;
            foreach (var lane in _lanes)
            {
                lane.Queue.Enqueue(_filling);
            }

            Monitor.PulseAll(_gate);
            while (_free.Count == 0 && _failure is null)
            {
                Monitor.Wait(_gate);
            }

            _failure?.Throw();
            _filling = _free.Pop();
        }

        _filling.Count = 0;
    }

    private sealed class Batch
    {
        public readonly ReplayOp[] Ops = new ReplayOp[BatchOps];
        public readonly ReplaySession[][] Sessions = new ReplaySession[BatchOps][];
        public int Count;
        public int Pending; // lanes yet to apply it (under _gate)
    }

    private sealed class Lane
    {
        private readonly ModelLanes _owner;
        private readonly int _index;
        private readonly nint[] _lines;

        public Lane(ModelLanes owner, int index, int maxLinesPerOp)
        {
            _owner = owner;
            _index = index;
            _lines = new nint[maxLinesPerOp];
            Thread = new Thread(Run) { IsBackground = true, Name = $"fastrmp replay models {index}" };
            Thread.Start();
        }

        public Queue<Batch> Queue { get; } = new(Batches);

        public Thread Thread { get; }

        /// <summary>Batches applied (under the owner's gate).</summary>
        public long Done { get; private set; }

        private void Run()
        {
            var owner = _owner;
            try
            {
                while (true)
                {
                    Batch batch;
                    lock (owner._gate)
                    {
                        while (Queue.Count == 0 && !owner._stopped)
                        {
                            Monitor.Wait(owner._gate);
                        }

                        if (owner._stopped)
                        {
                            return;
                        }

                        batch = Queue.Dequeue();
                    }

                    Apply(batch);
                    lock (owner._gate)
                    {
                        Done++;
                        if (--batch.Pending == 0)
                        {
                            owner._free.Push(batch);
                        }

                        Monitor.PulseAll(owner._gate);
                    }
                }
            }
            catch (Exception ex)
            {
                lock (owner._gate)
                {
                    owner._failure ??= ExceptionDispatchInfo.Capture(ex);
                    Monitor.PulseAll(owner._gate);
                }
            }
        }

        private void Apply(Batch batch)
        {
            int lanes = _owner._lanes.Length;
            for (int i = 0; i < Math.Min(PrefetchDistance, batch.Count); i++)
            {
                Prefetch(batch, i, lanes);
            }

            for (int i = 0; i < batch.Count; i++)
            {
                if (i + PrefetchDistance < batch.Count)
                {
                    Prefetch(batch, i + PrefetchDistance, lanes);
                }

                ref var op = ref batch.Ops[i];
                var sessions = batch.Sessions[i];
                for (int s = _index; s < sessions.Length; s += lanes)
                {
                    sessions[s].Apply(op);
                }
            }
        }

        /// <summary>Starts loading the lines the fault at <paramref name="at"/> will read in this lane's models.</summary>
        private void Prefetch(Batch batch, int at, int lanes)
        {
            ref var op = ref batch.Ops[at];
            if (op.Kind != ReplayOpKind.Fault || !System.Runtime.Intrinsics.X86.Sse.IsSupported)
            {
                return;
            }

            var sessions = batch.Sessions[at];
            for (int s = _index; s < sessions.Length; s += lanes)
            {
                int n = sessions[s].FaultLines(op, _lines);
                foreach (nint line in _lines.AsSpan(0, n))
                {
                    System.Runtime.Intrinsics.X86.Sse.Prefetch0((void*)line);
                }
            }
        }
    }
}
