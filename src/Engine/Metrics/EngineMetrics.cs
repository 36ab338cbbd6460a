using System.Collections.Immutable;
using System.Diagnostics.Metrics;

namespace FastRmp.Engine.Metrics;

/// <summary>
/// The engine's live instruments, published under the <see cref="MeterName"/> meter for <c>dotnet-counters</c>,
/// EventPipe sessions and in-process <see cref="MeterListener"/>s: observable counters of trace events, faults, RMP
/// operations and bytes read, summed over the registered <see cref="IMetricsSource"/>s.
/// </summary>
/// <remarks>
/// Every instrument is observable: a listener's collection calls back here and reads the sources' plain counters, so
/// nothing is recorded per event. A source's last totals are kept when it is unregistered, so the counters never go
/// back (observable counters report cumulative totals). Registration and the callbacks are thread-safe; the values
/// read are as fresh as the sources' own fields (no fences on the hot path).
/// </remarks>
public static class EngineMetrics
{
    /// <summary>The meter's name, <c>FastRmp</c> (<c>dotnet-counters monitor --counters FastRmp</c>).</summary>
    public const string MeterName = "FastRmp";

    /// <summary>Name of the counter of trace events processed (unit <c>{event}</c>).</summary>
    public const string EventsName = "fastrmp.events";

    /// <summary>Name of the counter of page faults handled (unit <c>{fault}</c>).</summary>
    public const string FaultsName = "fastrmp.faults";

    /// <summary>Name of the counter of RMP instructions and lookups (unit <c>{operation}</c>).</summary>
    public const string RmpOperationsName = "fastrmp.rmp.operations";

    /// <summary>Name of the counter of input bytes read (unit <c>By</c>).</summary>
    public const string BytesReadName = "fastrmp.bytes_read";

    private static readonly Lock s_lock = new();
    private static readonly Meter s_meter = new(MeterName, typeof(EngineMetrics).Assembly.GetName().Version?.ToString());
    private static State s_state = new([], default);

    static EngineMetrics()
    {
        s_meter.CreateObservableCounter(EventsName, static () => Sum(Kind.Events), "{event}", "Trace events processed");
        s_meter.CreateObservableCounter(FaultsName, static () => Sum(Kind.Faults), "{fault}", "Page faults handled by the modelled KVM");
        s_meter.CreateObservableCounter(RmpOperationsName, static () => Sum(Kind.RmpOperations), "{operation}", "RMP instructions (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST) and lookups");
        s_meter.CreateObservableCounter(BytesReadName, static () => Sum(Kind.BytesRead), "By", "Bytes of trace input read");
    }

    private enum Kind
    {
        Events,
        Faults,
        RmpOperations,
        BytesRead,
    }

    /// <summary>The meter (for in-process listeners; instruments are named by the <c>*Name</c> constants).</summary>
    public static Meter Meter => s_meter;

    /// <summary>
    /// Adds <paramref name="source"/> to the sums until the returned handle is disposed; disposing keeps its final
    /// totals in the counters. Thread-safe; disposing twice does nothing.
    /// </summary>
    /// <remarks>
    /// The meter holds the source weakly: a source its owner forgot to dispose is still collected (with the native
    /// memory it owns), and the counters keep the totals last read from it, so they never go back.
    /// </remarks>
    public static IDisposable Register(IMetricsSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var registration = new Registration(source);
        lock (s_lock)
        {
            var state = Prune(s_state);
            Volatile.Write(ref s_state, state with { Sources = state.Sources.Add(registration) });
        }

        return registration;
    }

    private static long Sum(Kind kind)
    {
        // The registrations and the retired totals are one immutable snapshot, replaced under the lock and read here
        // without it: a collection sees a source either live or retired, never both or neither.
        var state = Volatile.Read(ref s_state);
        long sum = state.Retired[kind];
        foreach (var registration in state.Sources)
        {
            sum += registration.Read(kind);
        }

        return sum;
    }

    /// <summary>Moves the registrations whose source was collected into the retired totals (under the lock).</summary>
    private static State Prune(State state)
    {
        var retired = state.Retired;
        var live = state.Sources.RemoveAll(r =>
        {
            if (r.IsAlive)
            {
                return false;
            }

            retired = retired.Add(r.Last);
            return true;
        });
        return new State(live, retired);
    }

    private static void Unregister(Registration registration)
    {
        lock (s_lock)
        {
            var state = s_state;
            int index = state.Sources.IndexOf(registration, ReferenceEqualityComparer.Instance);
            if (index < 0)
            {
                return;
            }

            registration.Refresh();
            Volatile.Write(ref s_state, Prune(state with { Sources = state.Sources.RemoveAt(index), Retired = state.Retired.Add(registration.Last) }));
        }
    }

    private sealed record State(ImmutableArray<Registration> Sources, Totals Retired);

    private readonly record struct Totals(long Events, long Faults, long RmpOperations, long BytesRead)
    {
        public long this[Kind kind] => kind switch
        {
            Kind.Events => Events,
            Kind.Faults => Faults,
            Kind.RmpOperations => RmpOperations,
            _ => BytesRead,
        };

        public Totals Add(Totals other) => new(Events + other.Events, Faults + other.Faults, RmpOperations + other.RmpOperations, BytesRead + other.BytesRead);
    }

    /// <summary>One registered source, held weakly, with the totals last read from it.</summary>
    private sealed class Registration(IMetricsSource source) : IDisposable
    {
        private readonly WeakReference<IMetricsSource> _source = new(source);
        private readonly long[] _last = new long[4]; // by Kind
        private int _disposed;

        public bool IsAlive => _source.TryGetTarget(out _);

        /// <summary>The totals last read (what the source reported before it was collected or unregistered).</summary>
        public Totals Last => new(Volatile.Read(ref _last[0]), Volatile.Read(ref _last[1]), Volatile.Read(ref _last[2]), Volatile.Read(ref _last[3]));

        /// <summary>The source's current value of <paramref name="kind"/> (remembered), or the last one read once it is gone.</summary>
        public long Read(Kind kind)
        {
            if (!_source.TryGetTarget(out var s))
            {
                return Volatile.Read(ref _last[(int)kind]);
            }

            long value = kind switch
            {
                Kind.Events => s.Events,
                Kind.Faults => s.Faults,
                Kind.RmpOperations => s.RmpOperations,
                _ => s.BytesRead,
            };
            Volatile.Write(ref _last[(int)kind], value);
            return value;
        }

        public void Refresh()
        {
            Read(Kind.Events);
            Read(Kind.Faults);
            Read(Kind.RmpOperations);
            Read(Kind.BytesRead);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Unregister(this);
            }
        }
    }
}
