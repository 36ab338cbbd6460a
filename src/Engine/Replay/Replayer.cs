using FastRmp.Engine.Metrics;
using FastRmp.Engine.Scenarios;
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
/// <param name="Session">The session (its host model stays alive until the replayer is disposed).</param>
public sealed record ReplayResult(string Policy, ScenarioResult Counters, Fidelity Fidelity, MemslotSource Source, string? FirstRefusal, string? InvariantViolation, ReplaySession Session);

/// <summary>
/// Replays one trace through several policies' models in one pass: each record is decoded once
/// (<see cref="TraceOps"/>) and applied to every <see cref="ReplaySession"/>.
/// </summary>
/// <remarks>
/// Damage the reader cannot skip ends the replay early; what was replayed so far stays and <see cref="Error"/> says
/// where the input broke. Not thread-safe; <see cref="Records"/> and <see cref="BytesRead"/> may be read from another
/// thread: the replayer is an <see cref="IMetricsSource"/> of <see cref="EngineMetrics"/> (events and bytes read; each
/// policy's host publishes its faults and RMP operations) for its lifetime.
/// </remarks>
public sealed class Replayer : IDisposable, IMetricsSource
{
    /// <summary>Records between progress reports.</summary>
    public const int ProgressInterval = 1 << 13;

    private readonly ITraceReader _reader;
    private readonly ReplaySession[] _sessions;
    private readonly IDisposable _metrics;
    private long _records;
    private long _bytes;

    /// <summary>Creates one session per policy over <paramref name="reader"/> (which the caller owns).</summary>
    public Replayer(ITraceReader reader, ReplayOptions options, IReadOnlyList<string> policies)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(policies);
        if (policies.Count == 0)
        {
            throw new ArgumentException("At least one policy is needed.", nameof(policies));
        }

        _reader = reader;
        Ops = new TraceOps(reader);
        _metrics = EngineMetrics.Register(this);
        _sessions = new ReplaySession[policies.Count];
        try
        {
            for (int i = 0; i < _sessions.Length; i++)
            {
                _sessions[i] = new ReplaySession(policies[i], options);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The decoded trace.</summary>
    public TraceOps Ops { get; }

    /// <summary>The sessions, in the order of the policies given.</summary>
    public IReadOnlyList<ReplaySession> Sessions => _sessions;

    /// <summary>Records read so far.</summary>
    public long Records => Volatile.Read(ref _records);

    /// <summary>Input bytes read so far.</summary>
    public long BytesRead => Volatile.Read(ref _bytes);

    /// <summary>Why the replay stopped before the end of the input, or null.</summary>
    public TraceFormatException? Error { get; private set; }

    /// <summary>Replays the whole trace; <paramref name="progress"/> is called every <see cref="ProgressInterval"/> records.</summary>
    public void Run(Action<ReplayProgress>? progress = null, CancellationToken cancel = default)
    {
        var sessions = _sessions;
        long nextReport = ProgressInterval;
        try
        {
            while (Ops.MoveNext(out var op))
            {
                foreach (var session in sessions)
                {
                    session.Apply(op);
                }

                if (Ops.Stats.Records >= nextReport)
                {
                    nextReport = Ops.Stats.Records + ProgressInterval;
                    Publish();
                    progress?.Invoke(new ReplayProgress(_records, _bytes));
                    cancel.ThrowIfCancellationRequested();
                }
            }
        }
        catch (TraceFormatException ex)
        {
            Error = ex;
        }

        Publish();
        progress?.Invoke(new ReplayProgress(_records, _bytes));
    }

    /// <summary>The results, one per policy (verifies each model's invariants).</summary>
    public IReadOnlyList<ReplayResult> Results(string name)
        => [.. _sessions.Select(s =>
        {
            var counters = s.Result(name);
            return new ReplayResult(s.Policy, counters, s.Fidelity, s.Source, s.FirstRefusal, s.InvariantViolation, s);
        })];

    long IMetricsSource.Events => Records;

    long IMetricsSource.Faults => 0;

    long IMetricsSource.RmpOperations => 0;

    long IMetricsSource.BytesRead => BytesRead;

    /// <inheritdoc />
    public void Dispose()
    {
        _metrics.Dispose();
        foreach (var session in _sessions)
        {
            session?.Dispose();
        }
    }

    private void Publish()
    {
        Volatile.Write(ref _records, Ops.Stats.Records);
        Volatile.Write(ref _bytes, _reader.Stats.BytesRead);
    }
}
