using BenchmarkDotNet.Attributes;
using FastRmp.Interop.Tests.Tracing.Perf;
using FastRmp.Interop.Tracing;

namespace FastRmp.Benchmarks;

/// <summary>
/// perf.data reading: walking records (baseline) against decoding every field, pipe mode and zstd-compressed records.
/// The input: 180 000 kvm:kvm_userspace_exit samples on 4 CPUs in rounds of 1 000, each CPU's times interleaved
/// with the others' so that every round is sorted. One operation = one record.
/// </summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(16, Reason = "per-open buffers (1 MiB, a second for zstd), the tracing data's formats and the ordering window's arrays, spread over 180 000 records")]
public class TracingPerfDataBenchmarks
{
    private const int Records = 180_000;
    private string _file = "";
    private string _pipe = "";
    private string _zstd = "";

    [GlobalSetup]
    public void Setup()
    {
        string dir = Directory.CreateTempSubdirectory("fastrmp-bench-perf-").FullName;
        var b = new PerfDataBuilder(bigEndian: false).Comm(0, 4000, 4000, "qemu-system-x86");
        var rng = new Random(7);
        var ts = new ulong[4];
        for (int i = 0; i < Records; i++)
        {
            int cpu = i % 4;
            b.Sample(ts[cpu] += (ulong)rng.Next(100, 3000), cpu, 4000, 4001 + cpu, (uint)rng.Next(40), 0);
            if (i % 1000 == 999)
            {
                b.Round();
            }
        }

        _file = Path.Combine(dir, "kvm.data");
        _pipe = Path.Combine(dir, "kvm-pipe.data");
        _zstd = Path.Combine(dir, "kvm-zstd.data");
        byte[] file = b.Build();
        File.WriteAllBytes(_file, file);
        File.WriteAllBytes(_pipe, b.BuildPipe());
        File.WriteAllBytes(_zstd, PerfFileSurgery.CompressData(file, seed: 1, maxChunk: 60_000));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(Path.GetDirectoryName(_file)!, recursive: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    [BenchmarkCategory("PerfData")]
    public long WalkRecords() => Walk(_file);

    [Benchmark(OperationsPerInvoke = Records)]
    [BenchmarkCategory("PerfData")]
    public long WalkRecordsPipeMode() => Walk(_pipe);

    [Benchmark(OperationsPerInvoke = Records)]
    [BenchmarkCategory("PerfData")]
    public long WalkRecordsZstd() => Walk(_zstd);

    [Benchmark(OperationsPerInvoke = Records)]
    [BenchmarkCategory("PerfData")]
    public ulong DecodeEveryField()
    {
        ulong sum = 0;
        using var reader = TraceFile.OpenReader(_file);
        while (reader.MoveNext(out var r))
        {
            foreach (var f in r.Format.EventFields)
            {
                sum += f.IsNumber ? r.GetUInt64(f) : (ulong)r.GetData(f).Length;
            }
        }

        return sum;
    }

    private static long Walk(string path)
    {
        long n = 0;
        using var reader = TraceFile.OpenReader(path);
        while (reader.MoveNext(out var r))
        {
            n += r.Pid + r.Cpu;
        }

        return n;
    }
}
