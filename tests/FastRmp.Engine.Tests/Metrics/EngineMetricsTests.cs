using System.Diagnostics.Metrics;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Metrics;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Metrics;

// The meter is process-wide: tests here compare differences, and run one at a time (one collection).
[Collection(GlobalMetricsCollection.Name)]
public sealed class EngineMetricsTests
{
    private sealed class FakeSource : IMetricsSource
    {
        public long Events { get; set; }

        public long Faults { get; set; }

        public long RmpOperations { get; set; }

        public long BytesRead { get; set; }
    }

    private static Dictionary<string, long> Collect()
    {
        _ = EngineMetrics.Meter; // creates the meter and its instruments
        var values = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    [Fact]
    public void Instruments_sum_registered_sources_and_keep_totals_after_unregistering()
    {
        var before = Collect();
        var source = new FakeSource { Events = 10, Faults = 3, RmpOperations = 7, BytesRead = 4096 };
        var registration = EngineMetrics.Register(source);
        source.Events = 25;
        var live = Collect();
        Assert.Equal(25, live[EngineMetrics.EventsName] - before[EngineMetrics.EventsName]);
        Assert.Equal(3, live[EngineMetrics.FaultsName] - before[EngineMetrics.FaultsName]);
        Assert.Equal(7, live[EngineMetrics.RmpOperationsName] - before[EngineMetrics.RmpOperationsName]);
        Assert.Equal(4096, live[EngineMetrics.BytesReadName] - before[EngineMetrics.BytesReadName]);

        registration.Dispose();
        registration.Dispose();
        source.Events = 1000; // no longer read
        var after = Collect();
        Assert.Equal(25, after[EngineMetrics.EventsName] - before[EngineMetrics.EventsName]);
        Assert.Equal(4096, after[EngineMetrics.BytesReadName] - before[EngineMetrics.BytesReadName]);
    }

    [Fact]
    public void A_source_never_disposed_is_still_collected_and_its_last_totals_stay()
    {
        // issue 18, item 13: the meter held every source strongly, so a host nobody disposed was never freed.
        var before = Collect();
        var weak = RegisterAndForget(events: 42);
        _ = Collect(); // reads the source while it lives: 42
        for (int i = 0; i < 5 && IsAlive(weak); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(IsAlive(weak));
        var after = Collect();
        Assert.Equal(42, after[EngineMetrics.EventsName] - before[EngineMetrics.EventsName]); // the counter does not go back
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool IsAlive(WeakReference<FakeSource> weak) => weak.TryGetTarget(out _);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<FakeSource> RegisterAndForget(long events)
    {
        var source = new FakeSource { Events = events };
        _ = EngineMetrics.Register(source); // the handle is dropped too: nothing disposes it
        return new WeakReference<FakeSource>(source);
    }

    [Fact]
    public void A_scenario_host_reports_its_faults_and_rmp_operations()
    {
        var before = Collect();
        using (var host = new Host("first-use", folioOrder: 0, 16UL << 20))
        {
            host.Guest.Access(new gpa_t(0x1000), isPrivate: true); // faults the page in (then NotValidated)
            var live = Collect();
            Assert.True(live[EngineMetrics.FaultsName] - before[EngineMetrics.FaultsName] >= 1);
            Assert.True(live[EngineMetrics.RmpOperationsName] - before[EngineMetrics.RmpOperationsName] >= 1);
        }

        var after = Collect();
        Assert.True(after[EngineMetrics.FaultsName] - before[EngineMetrics.FaultsName] >= 1);
    }

    [Fact]
    public void Instruments_have_units_and_descriptions()
    {
        var found = new List<Instrument>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name == EngineMetrics.MeterName)
            {
                found.Add(instrument);
            }
        };
        EngineMetrics.Register(new FakeSource()).Dispose(); // the meter exists once the type is initialised
        listener.Start();
        Assert.Equal(
            [EngineMetrics.BytesReadName, EngineMetrics.EventsName, EngineMetrics.FaultsName, EngineMetrics.RmpOperationsName],
            found.Select(i => i.Name).Order(StringComparer.Ordinal));
        Assert.All(found, i => Assert.False(string.IsNullOrEmpty(i.Unit)));
        Assert.All(found, i => Assert.False(string.IsNullOrEmpty(i.Description)));
        Assert.All(found, i => Assert.True(i.IsObservable));
    }
}

/// <summary>Tests that read the process-wide FastRmp meter run alone: other tests' hosts would add to its sums.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalMetricsCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "process-wide metrics";
}
