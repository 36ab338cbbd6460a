using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using FastRmp.Engine.Metrics;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;

namespace FastRmp.Cli.Tests;

/// <summary>
/// Watches a running <c>fastrmp</c> from outside, as <c>dotnet-counters</c> does: an EventPipe session with the
/// System.Diagnostics.Metrics provider (the FastRmp meter and System.Runtime) and the runtime's GC events.
/// </summary>
[Collection(HeavyProcesses.Name)]
public sealed class LiveMetricsTests
{
    // MultipleSessionsNotSupportedError is not counted as an error: the runtime reports it when the provider's enable
    // command reaches the child twice (seen once in CI); the values of this test's own session id still arrive, and
    // the assertions below need them to advance.
    private const string MetricsProvider = "System.Diagnostics.Metrics";
    private const double RefreshSeconds = 0.2;

    /// <summary>Samples of the fault counter that must advance before the session stops.</summary>
    private const int AdvancingSamples = 6;

    /// <summary>The children: a long scenario, and a replay (compare, every policy) of a generated 2.4 M-record SNP host trace.</summary>
    public static TheoryData<string> Children => ["scenario", "replay"];

    /// <summary>The child's arguments and the instruments it must advance.</summary>
    private static (string[] Arguments, string[] Advancing) Child(string kind, string dir) => kind switch
    {
        // --per-page: the batched fault path boots 256 GiB in under a second, too soon to watch
        "scenario" => (["scenario", "snp-boot", "--policy", "first-use", "--folio", "4k", "--guest-size", "256G", "--per-page"],
            [EngineMetrics.FaultsName, EngineMetrics.RmpOperationsName]),
        // compare: four policies' models on one decode, long enough to sample on a quiet machine
        _ => (["compare", GenerateTrace(dir), "--host-size", "64G"],
            [EngineMetrics.EventsName, EngineMetrics.BytesReadName, EngineMetrics.FaultsName, EngineMetrics.RmpOperationsName]),
    };

    private static string GenerateTrace(string dir)
    {
        string path = Path.Combine(dir, "live.dat");
        FastRmp.Tests.Common.SnpTraceFixture.Write(path, 600_000, vcpus: 8, highSlotBytes: 30UL << 30);
        return path;
    }

    private sealed record Sample(double TimeMs, string Instrument, double Value);

    [Theory]
    [MemberData(nameof(Children))]
    public async Task A_running_fastrmp_publishes_advancing_counters_and_does_not_collect_garbage_in_steady_state(string kind)
    {
        var dir = Directory.CreateTempSubdirectory("fastrmp-live-");
        try
        {
            await Watch(kind, dir.FullName, FastrmpProcess.StartInfo);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Starts the child of <paramref name="kind"/> with <paramref name="start"/> (the JIT build, or the Native AOT tool
    /// in <see cref="NativeLiveMetricsTests"/>) and asserts what it publishes over EventPipe.
    /// </summary>
    internal static async Task Watch(string kind, string dir, Func<IEnumerable<string>, ProcessStartInfo> start)
    {
        var (arguments, advancing) = Child(kind, dir);
        var samples = new ConcurrentQueue<Sample>();
        var gcStarts = new ConcurrentQueue<double>();
        var errors = new ConcurrentQueue<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));

        using var child = Process.Start(start(arguments))!;
        var stdout = child.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = child.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await WaitForDiagnosticsPort(child, TimeSpan.FromSeconds(30), timeout.Token);
            var client = new DiagnosticsClient(child.Id);
            string sessionId = Guid.NewGuid().ToString("N");
            EventPipeProvider[] providers =
            [
                new(MetricsProvider, EventLevel.Informational, keywords: 0x7, arguments: new Dictionary<string, string>
                {
                    ["SessionId"] = sessionId,
                    ["Metrics"] = $"{EngineMetrics.MeterName};System.Runtime",
                    ["RefreshInterval"] = RefreshSeconds.ToString(CultureInfo.InvariantCulture),
                    ["MaxTimeSeries"] = "1000",
                    ["MaxHistograms"] = "10",
                }),
                new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, (long)ClrTraceEventParser.Keywords.GC),
            ];
            using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 64, timeout.Token)
                .WaitAsync(TimeSpan.FromSeconds(60), timeout.Token); // the IPC handshake can take long on a loaded 2-core machine
            var processing = Task.Run(
                () =>
                {
                    using var source = new EventPipeEventSource(session.EventStream);
                    source.Clr.GCStart += e => gcStarts.Enqueue(e.TimeStampRelativeMSec);
                    source.Dynamic.All += e =>
                    {
                        if (e.ProviderName != MetricsProvider)
                        {
                            return;
                        }

                        if (e.EventName is "CounterRateValuePublished" or "ObservableCounterValuePublished"
                            && (string)e.PayloadByName("sessionId") == sessionId
                            && (string)e.PayloadByName("meterName") == EngineMetrics.MeterName)
                        {
                            string instrument = (string)e.PayloadByName("instrumentName");
                            samples.Enqueue(new Sample(e.TimeStampRelativeMSec, instrument, Total(e)));
                            // enough once faults advanced for a while and every instrument the child must move has moved
                            if (Advances(samples, EngineMetrics.FaultsName) >= AdvancingSamples && advancing.All(a => Advances(samples, a) >= 2))
                            {
                                enough.TrySetResult();
                            }
                        }
                        else if (e.EventName.Contains("Error", StringComparison.Ordinal) && e.EventName != "MultipleSessionsNotSupportedError")
                        {
                            errors.Enqueue(e.ToString(CultureInfo.InvariantCulture));
                        }
                    };
                    source.Process();
                },
                timeout.Token);

            // Enough samples, or the child ended (the session's stream ends with it).
            await Task.WhenAny(enough.Task, processing, child.WaitForExitAsync(timeout.Token)).WaitAsync(TimeSpan.FromSeconds(90), timeout.Token);
            try
            {
                await session.StopAsync(timeout.Token).WaitAsync(TimeSpan.FromSeconds(15), timeout.Token);
            }
            catch (ServerNotAvailableException) when (child.HasExited)
            {
                // The child finished first (a fast native replay): its session ended with it; the samples are judged below.
            }
            await processing.WaitAsync(TimeSpan.FromSeconds(15), timeout.Token);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }

            await child.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15), CancellationToken.None);
        }

        string context = $"errors: {string.Join(" | ", errors)}; child stderr: {await Tail(stderr)}; samples: {samples.Count}";
        Assert.True(errors.IsEmpty, context);
        foreach (string instrument in advancing)
        {
            Assert.True(Advances(samples, instrument) >= 2, $"{instrument} did not advance ({string.Join(", ", Series(samples, instrument).Select(x => x.Value))}); {context}");
        }

        // Steady state: from the first sample that shows faults advancing (setup is over) to the last one that does.
        var faults = Series(samples, EngineMetrics.FaultsName);
        var advancingAt = faults.Skip(1).Where((s, i) => s.Value > faults[i].Value).Select(s => s.TimeMs).ToArray();
        Assert.True(advancingAt.Length >= AdvancingSamples - 1, $"only {advancingAt.Length} advancing fault samples; {context}");
        double from = advancingAt[0], to = advancingAt[^1];
        var steadyGcs = gcStarts.Where(t => t > from && t <= to).ToArray();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{samples.Count} samples; faults {faults[0].Value:F0} -> {faults[^1].Value:F0}; steady window {from:F0}-{to:F0} ms; GCs: {gcStarts.Count} in all, {steadyGcs.Length} in the window");
        Assert.True(
            steadyGcs.Length == 0,
            $"{steadyGcs.Length} GCs in the steady-state window {from:F0}-{to:F0} ms (GC starts at {string.Join(", ", gcStarts.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms)");
    }

    private static async Task WaitForDiagnosticsPort(Process child, TimeSpan limit, CancellationToken token)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!DiagnosticsClient.GetPublishedProcesses().Contains(child.Id))
        {
            if (child.HasExited || stopwatch.Elapsed > limit)
            {
                throw new TimeoutException($"fastrmp (pid {child.Id}) opened no diagnostics port within {limit.TotalSeconds} s (exited: {child.HasExited}).");
            }

            await Task.Delay(50, token);
        }
    }

    private static double Total(TraceEvent e)
    {
        // An observable counter's cumulative total is the "value" field (.NET 8+); "rate" is the change per interval.
        string? value = e.PayloadNames.Contains("value") ? e.PayloadByName("value") as string : null;
        return double.Parse(string.IsNullOrEmpty(value) ? (string)e.PayloadByName("rate") : value, CultureInfo.InvariantCulture);
    }

    private static Sample[] Series(IEnumerable<Sample> samples, string instrument)
        => samples.Where(s => s.Instrument == instrument).OrderBy(s => s.TimeMs).ToArray();

    private static int Advances(IEnumerable<Sample> samples, string instrument)
    {
        var series = Series(samples, instrument);
        return series.Skip(1).Where((s, i) => s.Value > series[i].Value).Count();
    }

    private static async Task<string> Tail(Task<string> output)
    {
        try
        {
            string text = await output.WaitAsync(TimeSpan.FromSeconds(5));
            return text.Length > 500 ? text[^500..] : text;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            return "(not read)";
        }
    }
}
