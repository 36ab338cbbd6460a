using FastRmp.Engine.Metrics;
using FastRmp.Engine.Hosting;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Replay;

/// <summary>Progress of a replay, reported every <see cref="Replayer.ProgressInterval"/> records.</summary>
/// <param name="Records">Records read.</param>
/// <param name="BytesRead">Input bytes read.</param>
public readonly record struct ReplayProgress(long Records, long BytesRead);

/// <summary>The outcome of replaying one trace under one policy.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="Counters">Every counter (the model's, as docs/policies.md names them, then the replay's).</param>
/// <param name="Fidelity">Agreement with the traced kernel.</param>
/// <param name="Source">Where the memslots came from.</param>
/// <param name="FirstRefusal">The first request the model refused, if any.</param>
/// <param name="InvariantViolation">The model invariant the run broke, if any (a policy's failure, such as a freed page left private).</param>
/// <param name="Vm">The VM the run modelled.</param>
public sealed record ReplayResult(string Policy, RunResult Counters, Fidelity Fidelity, MemslotSource Source, string? FirstRefusal, string? InvariantViolation, ReplayVm Vm);

/// <summary>One VM of a trace: its QEMU process and that process's name.</summary>
/// <param name="Process">The process id (0: the trace does not tell threads' processes apart, so all of it is one VM).</param>
/// <param name="Name">The process's name as traced (the leader thread's comm when seen).</param>
public sealed record ReplayVm(int Process, string Name);

/// <summary>
/// Replays one trace through several policies' models in one pass: each record is decoded once
/// (<see cref="TraceOps"/>) and applied to every <see cref="ReplaySession"/> of its VM. Each VM of the trace (each
/// QEMU process, <see cref="ReplayOp.Process"/>) gets its own sessions, one per policy, made when its first op
/// arrives; each models its own host of <see cref="ReplayOptions.HostBytes"/> (the traced pfns of different VMs never
/// collide, so what a shared host would add is only allocator contention).
/// </summary>
/// <remarks>
/// Damage the reader cannot skip ends the replay early; what was replayed so far stays and <see cref="Error"/> says
/// where the input broke. Not thread-safe; <see cref="Records"/> and <see cref="BytesRead"/> may be read from another
/// thread: the replayer is an <see cref="IMetricsSource"/> of <see cref="EngineMetrics"/> (events and bytes read; each
/// policy's host publishes its faults and RMP operations) for its lifetime.
/// </remarks>
public sealed unsafe class Replayer : IDisposable, IMetricsSource
{
    /// <summary>Records between progress reports.</summary>
    public const int ProgressInterval = 1 << 13;

    /// <summary>Ops read and prefetched at a time, one batch ahead of those applied (a power of two).</summary>
#if DEBUG
    private const int Lookahead = 2; // Debug builds: tiny batches, so the whole test suite crosses batch edges
#else
    private const int Lookahead = 16;
#endif
    private const int RingSize = 2 * Lookahead;

    private readonly ITraceReader _reader;
    private readonly (string Policy, ReplayOptions Options)[] _models;
    private readonly List<(int Process, ReplaySession[] Sessions)> _vms = [];
    private readonly Dictionary<int, ReplaySession[]> _byProcess = [];
    private int _lastProcess;
    private ReplaySession[]? _lastSessions;
    private readonly IDisposable _metrics;
    private long _records;
    private long _bytes;
    private nint[]? _lines;
    private bool _disposed;
    private int _modelThreads = 1;

    /// <summary>Replays <paramref name="reader"/> (which the caller owns) under <paramref name="policies"/>.</summary>
    /// <exception cref="ArgumentException">No policy, or an unknown one.</exception>
    public Replayer(ITraceReader reader, ReplayOptions options, IReadOnlyList<string> policies)
        : this(reader, options, policies, kernels: null)
    {
    }

    /// <summary>
    /// Replays <paramref name="reader"/> (which the caller owns) under every policy of <paramref name="policies"/>
    /// with every kernel of <paramref name="kernels"/> (null: the options' kernel alone), kernel by kernel: each pair is
    /// its own model, fed the same decoded ops, so two kernels' results differ exactly where their rules do.
    /// </summary>
    /// <exception cref="ArgumentException">No policy or kernel, an unknown policy, or a pair named twice.</exception>
    public Replayer(ITraceReader reader, ReplayOptions options, IReadOnlyList<string> policies, IReadOnlyList<Kvm.KvmKernel>? kernels)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(policies);
        if (policies.Count == 0)
        {
            throw new ArgumentException("At least one policy is needed.", nameof(policies));
        }

        foreach (string policy in policies)
        {
            bool known = options.VmType == Interop.Uapi.KvmVmType.Tdx ? Tdx.TdxDesigns.TryParse(policy, out _) : Policies.PolicyCatalog.AllNames.Contains(policy);
            if (!known)
            {
                throw new ArgumentException(options.VmType == Interop.Uapi.KvmVmType.Tdx
                    ? $"Unknown TDX design '{policy}' (known: {string.Join(", ", Tdx.TdxDesigns.Names)})."
                    : $"Unknown policy '{policy}'.", nameof(policies));
            }
        }

        kernels ??= [options.Kernel ?? Kvm.KvmKernel.Default];
        if (kernels.Count == 0 || kernels.Distinct().Count() != kernels.Count || policies.Distinct().Count() != policies.Count)
        {
            throw new ArgumentException("Name at least one kernel, and each policy and kernel once.", nameof(kernels));
        }

        _reader = reader;
        _models = [.. kernels.SelectMany(k => policies.Select(p => (p, options with { Kernel = k })))];
        Ops = new TraceOps(reader);
        _metrics = EngineMetrics.Register(this);
    }

    /// <summary>The decoded trace.</summary>
    public TraceOps Ops { get; }

    /// <summary>The VMs seen so far and their sessions (in the order of the policies given), in order of appearance.</summary>
    public IReadOnlyList<(ReplayVm Vm, ReplaySession[] Sessions)> Vms => [.. _vms.Select(v => (VmOf(v.Process), v.Sessions))];

    /// <summary>Receives the decisions of the first policy's model, for every VM (the exported trace); set before <see cref="Run"/>.</summary>
    public IReplayRecorder? Recorder { get; set; }

    /// <summary>
    /// Called with each model as it is created (at its VM's first op, before it replays anything), e.g. to listen to
    /// its <see cref="Fidelity"/>, with the VM's name as it was at that op (<see cref="TraceOps.NameAtFirstOp"/>);
    /// set before <see cref="Run"/>.
    /// </summary>
    public Action<ReplayVm, ReplaySession>? SessionCreated { get; set; }

    /// <summary>
    /// Read and decode the trace on a thread of its own while the models run (<see cref="OpReadAhead"/>): on a machine
    /// with two or more cores the reading stage then costs little of the replay's time. The results are the same
    /// either way. Leave it off when the reader passes records on to something the models also write to (a tee into
    /// the same output): the reader then runs on another thread, ahead of the models. Set before <see cref="Run"/>.
    /// </summary>
    public bool ReadAhead { get; set; }

    /// <summary>
    /// Threads that apply the ops to the models (default 1: the thread that calls <see cref="Run"/>). With more, and
    /// more than one model (policies × kernels), each VM's models are spread over that many threads, at most one per
    /// model (<see cref="ModelLanes"/>); every model still applies the same ops in the same order, so the results are
    /// the same. What a model calls as it replays (its <see cref="Fidelity.Listener"/>, <see cref="ReplaySession.Decisions"/>,
    /// the <see cref="Recorder"/>) is then called on its thread: a listener shared by several models must be
    /// thread-safe, and sees their calls interleaved. Set before <see cref="Run"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int ModelThreads
    {
        get => _modelThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _modelThreads = value;
        }
    }

    /// <summary>Records read so far.</summary>
    public long Records => Volatile.Read(ref _records);

    /// <summary>Input bytes read so far.</summary>
    public long BytesRead => Volatile.Read(ref _bytes);

    /// <summary>Why the replay stopped before the end of the input, or null.</summary>
    public TraceFormatException? Error { get; private set; }

    /// <summary>Replays the whole trace; <paramref name="progress"/> is called every <see cref="ProgressInterval"/> records.</summary>
    /// <remarks>
    /// Ops are read in batches of <see cref="Lookahead"/>, one batch ahead of the ops applied. For each batch every
    /// policy's model names the lines its faults will read first (<see cref="ReplaySession.FaultLines"/>), and all of
    /// them are prefetched back to back: the faults of a trace land on random gfns, so their page-cache, NPT and
    /// attribute lines are cache and TLB misses, and misses started together overlap instead of queueing. With
    /// <see cref="ReadAhead"/> the ops come from a reading thread; with <see cref="ModelThreads"/> the models apply
    /// them on threads of their own, each prefetching for its models. Either way this returns once every op read has
    /// been applied and the threads have ended.
    /// </remarks>
    public void Run(Action<ReplayProgress>? progress = null, CancellationToken cancel = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var ahead = ReadAhead ? new OpReadAhead(Ops, _reader) : null;
        using var lanes = _modelThreads > 1 && _models.Length > 1 ? new ModelLanes(Math.Min(_modelThreads, _models.Length), Kvm.Vm.MaxFaultLines) : null;
        var ring = new ReplayOp[RingSize];
        int head = 0, count = 0;
        bool more = true;
        long nextReport = ProgressInterval;
        while (true)
        {
            if (more && count <= Lookahead)
            {
                int first = count;
                while (count < RingSize)
                {
                    more = NextOp(ahead, out ring[(head + count) & (RingSize - 1)]);
                    if (!more)
                    {
                        break;
                    }

                    count++;
                }

                if (lanes is null)
                {
                    Prefetch(ring, head, first, count); // the lanes prefetch for their own models
                }
            }

            if (count == 0)
            {
                break;
            }

            ref var op = ref ring[head];
            var sessions = Known(op.Process) ?? Create(op.Process);
            if (lanes is not null)
            {
                lanes.Add(op, sessions);
            }
            else
            {
                foreach (var session in sessions)
                {
                    session.Apply(op);
                }
            }

            head = (head + 1) & (RingSize - 1);
            count--;
            long read = ahead?.Records ?? Ops.Stats.Records;
            if (read >= nextReport)
            {
                nextReport = read + ProgressInterval;
                Publish(read, ahead?.BytesRead ?? _reader.Stats.BytesRead);
                progress?.Invoke(new ReplayProgress(_records, _bytes));
                cancel.ThrowIfCancellationRequested();
            }
        }

        lanes?.Drain(); // every model has applied every op
        ahead?.Dispose(); // the reading thread has ended: its statistics are final
        Publish(Ops.Stats.Records, _reader.Stats.BytesRead);
        progress?.Invoke(new ReplayProgress(_records, _bytes));
    }

    /// <summary>The next op, from the reading thread or read here; false at the end or at damage (<see cref="Error"/>: what was read before it is still replayed).</summary>
    private bool NextOp(OpReadAhead? ahead, out ReplayOp op)
    {
        if (ahead is not null)
        {
            bool more = ahead.Next(out op);
            Error ??= ahead.Error;
            return more;
        }

        try
        {
            return Ops.MoveNext(out op);
        }
        catch (TraceFormatException ex)
        {
            Error = ex;
            op = default;
            return false;
        }
    }

    /// <summary>The results, one per VM and policy, VM by VM (verifies each model's invariants when the options say so).</summary>
    public IReadOnlyList<ReplayResult> Results(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return [.. _vms.SelectMany(vm => vm.Sessions.Select(s =>
        {
            var counters = s.Result(name);
            return new ReplayResult(s.Policy, counters, s.Fidelity, s.Source, s.FirstRefusal, s.InvariantViolation, VmOf(vm.Process));
        }))];
    }

    long IMetricsSource.Events => Records;

    long IMetricsSource.Faults => 0;

    long IMetricsSource.RmpOperations => 0;

    long IMetricsSource.BytesRead => BytesRead;

    /// <inheritdoc />
    /// <summary>Frees every session's model. Later calls do nothing; <see cref="Run"/> and <see cref="Results"/> then throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _metrics.Dispose();
        foreach (var (_, sessions) in _vms)
        {
            foreach (var session in sessions)
            {
                session?.Dispose();
            }
        }
    }

    private ReplayVm VmOf(int process) => new(process, Ops.ProcessName(process));

    /// <summary>The sessions of a VM seen before (the last one asked for is cached: ops come in runs of one VM), or null.</summary>
    private ReplaySession[]? Known(int process)
    {
        if (_lastSessions is null || process != _lastProcess)
        {
            if (!_byProcess.TryGetValue(process, out var sessions))
            {
                return null;
            }

            (_lastProcess, _lastSessions) = (process, sessions);
        }

        return _lastSessions;
    }

    private ReplaySession[] Create(int process)
    {
        var sessions = new ReplaySession[_models.Length];
        _vms.Add((process, sessions));
        _byProcess.Add(process, sessions);
        for (int i = 0; i < sessions.Length; i++)
        {
            sessions[i] = new ReplaySession(_models[i].Policy, _models[i].Options);
            SessionCreated?.Invoke(new ReplayVm(process, Ops.NameAtFirstOp(process)), sessions[i]);
        }

        sessions[0].Recorder = Recorder;
        return sessions;
    }

    /// <summary>Gathers the lines the faults in ring positions [<paramref name="from"/>, <paramref name="to"/>) will read in every model, then prefetches them back to back.</summary>
    private void Prefetch(ReplayOp[] ring, int head, int from, int to)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            return;
        }

        _lines ??= new nint[RingSize * Kvm.Vm.MaxFaultLines * _models.Length];
        int n = 0;
        for (int i = from; i < to; i++)
        {
            ref var op = ref ring[(head + i) & (ring.Length - 1)];
            if (op.Kind == ReplayOpKind.Fault && Known(op.Process) is { } sessions)
            {
                foreach (var session in sessions)
                {
                    n += session.FaultLines(op, _lines.AsSpan(n));
                }
            }
        }

        foreach (nint line in _lines.AsSpan(0, n))
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0((void*)line);
        }
    }

    private void Publish(long records, long bytes)
    {
        Volatile.Write(ref _records, records);
        Volatile.Write(ref _bytes, bytes);
    }
}
