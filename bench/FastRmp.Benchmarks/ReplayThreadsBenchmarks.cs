using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Benchmarks;

/// <summary>
/// A replay on one thread against the CLI's default on a machine of two cores or more: the reading stage on a thread
/// of its own (<see cref="Replayer.ReadAhead"/>) and the models spread over the cores (<see cref="Replayer.ModelThreads"/>).
/// The synthetic SNP host trace of the replay measurements (8 vCPUs, a 64 GiB guest), replayed under one policy
/// (<c>replay</c>) and under the four of <c>compare</c>, a fresh replay per operation as the CLI makes one. One
/// operation = one record. Whole-process figures are in docs/benchmarks/tracing.md.
/// </summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(64, Reason = "a fresh replay per operation: each model's host (allocator, RMP, page cache), the reader's buffers and the threads' batches, spread over the trace's records")]
public class ReplayThreadsBenchmarks
{
    private const int Faults = 100_000;
    private string _dir = "";
    private string _file = "";
    private long _records;

    /// <summary>1: everything on the calling thread; 0: reading ahead, and one model thread per processor.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Models: first-use alone (<c>replay</c>), or the four policies (<c>compare</c>).</summary>
    [Params(1, 4)]
    public int Models { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("fastrmp-bench-replay-threads-").FullName;
        _file = Path.Combine(_dir, "snp.dat");
        _records = SnpTraceFixture.Write(_file, BenchConfig.Dry ? 5_000 : Faults, vcpus: 8, highSlotBytes: 62UL << 30).Records;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    // SnpTraceFixture writes about 4.2 records per fault (docs/benchmarks/engine.md); the exact count is checked below.
    [Benchmark(OperationsPerInvoke = Faults * 4)]
    public long Replay()
    {
        string[] policies = Models == 1 ? ["first-use"] : [.. PolicyCatalog.Names];
        using var reader = TraceFile.OpenReader(_file);
        using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 1UL << 40, Verify: false), policies)
        {
            ReadAhead = Threads != 1,
            ModelThreads = Threads == 1 ? 1 : Environment.ProcessorCount,
        };
        replayer.Run();
        if (!BenchConfig.Dry && replayer.Records != _records)
        {
            throw new InvalidOperationException($"replayed {replayer.Records} of {_records} records");
        }

        return replayer.Records;
    }
}
