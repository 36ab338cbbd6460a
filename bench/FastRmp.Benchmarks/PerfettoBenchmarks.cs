using BenchmarkDotNet.Attributes;
using FastRmp.Export.Perfetto;
using FastRmp.Interop.Tracing;

namespace FastRmp.Benchmarks;

/// <summary>
/// Perfetto output (docs/perfetto.md): walking a trace.dat's records (baseline) against writing each as a Perfetto
/// track event to a null stream. One operation = one record of a 60 000-fault (180 000-record) file.
/// </summary>
[BenchmarkCategory("Perfetto")]
[AllocationBudget(8, Reason = "per-open reader buffers, the pooled output buffer and per-format/per-thread plans, spread over 180 000 records")]
public class PerfettoBenchmarks
{
    private const int Faults = 60_000;
    private string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Directory.CreateTempSubdirectory("fastrmp-bench-").FullName, "kvm.dat");
        TracingFixtures.WriteDat(_path, "none", Faults);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Faults * 3)]
    public long WalkRecords()
    {
        long n = 0;
        using var reader = TraceFile.OpenReader(_path);
        while (reader.MoveNext(out var r))
        {
            n += r.Pid;
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Faults * 3)]
    public long WriteTrackEvents()
    {
        using var reader = TraceFile.OpenReader(_path);
        using var perfetto = new PerfettoTrace(Stream.Null);
        while (reader.MoveNext(out var r))
        {
            perfetto.WriteRecord(r);
        }

        perfetto.Complete();
        return perfetto.Packets;
    }
}
