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
        s_meter.CreateObservableCounter(EventsName, static () => Sum(static s => s.Events, static t => t.Events), "{event}", "Trace events processed");
        s_meter.CreateObservableCounter(FaultsName, static () => Sum(static s => s.Faults, static t => t.Faults), "{fault}", "Page faults handled by the modelled KVM");
        s_meter.CreateObservableCounter(RmpOperationsName, static () => Sum(static s => s.RmpOperations, static t => t.RmpOperations), "{operation}", "RMP instructions (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST) and lookups");
        s_meter.CreateObservableCounter(BytesReadName, static () => Sum(static s => s.BytesRead, static t => t.BytesRead), "By", "Bytes of trace input read");
    }

    /// <summary>The meter (for in-process listeners; instruments are named by the <c>*Name</c> constants).</summary>
    public static Meter Meter => s_meter;

    /// <summary>
    /// Adds <paramref name="source"/> to the sums until the returned handle is disposed; disposing keeps its final
    /// totals in the counters. Thread-safe; disposing twice does nothing.
    /// </summary>
    public static IDisposable Register(IMetricsSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (s_lock)
        {
            Volatile.Write(ref s_state, s_state with { Sources = s_state.Sources.Add(source) });
        }

        return new Registration(source);
    }

    private static long Sum(Func<IMetricsSource, long> read, Func<Totals, long> retired)
    {
        // The sources and the retired totals are one immutable snapshot, replaced under the lock and read here without
        // it: a collection sees a source either live or retired, never both or neither.
        var state = Volatile.Read(ref s_state);
        long sum = retired(state.Retired);
        foreach (var source in state.Sources)
        {
            sum += read(source);
        }

        return sum;
    }

    private static void Unregister(IMetricsSource source)
    {
        lock (s_lock)
        {
            var state = s_state;
            int index = state.Sources.IndexOf(source, ReferenceEqualityComparer.Instance);
            if (index < 0)
            {
                return;
            }

            var r = state.Retired;
            var retired = new Totals(r.Events + source.Events, r.Faults + source.Faults, r.RmpOperations + source.RmpOperations, r.BytesRead + source.BytesRead);
            Volatile.Write(ref s_state, new State(state.Sources.RemoveAt(index), retired));
        }
    }

    private sealed record State(ImmutableArray<IMetricsSource> Sources, Totals Retired);

    private readonly record struct Totals(long Events, long Faults, long RmpOperations, long BytesRead);

    private sealed class Registration(IMetricsSource source) : IDisposable
    {
        private IMetricsSource? _source = source;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _source, null) is { } s)
            {
                Unregister(s);
            }
        }
    }
}
