using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Benchmarks;

/// <summary>
/// The replay's reading stage on the models' thread against on a thread of its own (<see cref="Replayer.ReadAhead"/>,
/// the CLI's default on two cores or more): the synthetic SNP host trace of the replay measurements (8 vCPUs, a 64 GiB
/// guest) replayed under first-use, a new model per operation as the CLI makes one. One operation = one record. The
/// difference is the reading and decoding the second core takes over; whole-process figures are in
/// docs/benchmarks/tracing.md.
/// </summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(64, Reason = "a fresh replay per operation: the model's host (allocator, RMP, page cache), the reader's buffers and, reading ahead, the thread and its batches, spread over the trace's records")]
public class ReplayReadAheadBenchmarks
{
    private const int Faults = 100_000;
    private string _dir = "";
    private string _file = "";
    private long _records;

    [Params(false, true)]
    public bool ReadAhead { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("fastrmp-bench-readahead-").FullName;
        _file = Path.Combine(_dir, "snp.dat");
        _records = SnpTraceFixture.Write(_file, BenchConfig.Dry ? 5_000 : Faults, vcpus: 8, highSlotBytes: 62UL << 30).Records;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    // SnpTraceFixture writes about 4.2 records per fault (docs/benchmarks/engine.md); the exact count is checked below.
    [Benchmark(OperationsPerInvoke = Faults * 4)]
    public long Replay()
    {
        using var reader = TraceFile.OpenReader(_file);
        using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 1UL << 40, Verify: false), ["first-use"]) { ReadAhead = ReadAhead };
        replayer.Run();
        if (!BenchConfig.Dry && replayer.Records != _records)
        {
            throw new InvalidOperationException($"replayed {replayer.Records} of {_records} records");
        }

        return replayer.Records;
    }
}
