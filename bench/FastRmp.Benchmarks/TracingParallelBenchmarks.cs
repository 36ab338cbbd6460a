using BenchmarkDotNet.Attributes;
using FastRmp.Interop.Tracing;

namespace FastRmp.Benchmarks;

/// <summary>
/// The parallel reader (<see cref="TraceScan"/>): every record of a 4-CPU trace.dat counted per event, on one thread
/// against all of them, uncompressed and zstd (each CPU's chunks decompressed on its own thread). One operation = one
/// record. On the 2-core machine the ratio of the two thread counts is the speed-up the issue asks of zstd (>= 2x
/// would need every core to be free; see docs/benchmarks/tracing.md for the whole-process figures).
/// </summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(16, Reason = "per-part readers, page buffers and zstd contexts, spread over 540 000 records")]
public class TracingParallelBenchmarks
{
    private const int Faults = 180_000;
    private string _dir = "";
    private string _file = "";

    /// <summary>Threads: 1, or 0 for one per processor.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    [Params("none", "zstd")]
    public string Compression { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("fastrmp-bench-scan-").FullName;
        _file = Path.Combine(_dir, "kvm.dat");
        TracingFixtures.WriteDat(_file, Compression, BenchConfig.Dry ? 20_000 : Faults);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark(OperationsPerInvoke = Faults * 3)]
    public long CountPerEvent()
    {
        using var reader = TraceFile.OpenReader(_file);
        var result = TraceScan.Run(reader, () => new long[4096], static (long[] counts, in TraceRecord r) => counts[r.Format.Id & 4095]++, Threads);
        long total = 0;
        foreach (var part in result.Parts)
        {
            total += part.Sum();
        }

        return total;
    }
}
