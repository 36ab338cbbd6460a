using BenchmarkDotNet.Attributes;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Benchmarks;

/// <summary>
/// trace.dat decoding: walking records (baseline) against decoding every field and typed KVM events, uncompressed
/// and zstd. One operation = one pass over a 60 000-fault (180 000-record) file.
/// </summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(8, Reason = "per-open buffers and format tables, spread over 180 000 records")]
public class TracingTraceDatBenchmarks
{
    private const int Faults = 60_000;
    private string _none = "";
    private string _zstd = "";

    [GlobalSetup]
    public void Setup()
    {
        string dir = Directory.CreateTempSubdirectory("fastrmp-bench-").FullName;
        _none = Path.Combine(dir, "kvm-none.dat");
        _zstd = Path.Combine(dir, "kvm-zstd.dat");
        TracingFixtures.WriteDat(_none, "none", Faults);
        TracingFixtures.WriteDat(_zstd, "zstd", Faults);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(Path.GetDirectoryName(_none)!, recursive: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Faults * 3)]
    [BenchmarkCategory("TraceDat")]
    public long WalkRecords()
    {
        long n = 0;
        using var reader = TraceFile.OpenReader(_none);
        while (reader.MoveNext(out var r))
        {
            n += r.Pid;
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Faults * 3)]
    [BenchmarkCategory("TraceDat")]
    public ulong DecodeEveryField() => DecodeAll(_none);

    [Benchmark(OperationsPerInvoke = Faults * 3)]
    [BenchmarkCategory("TraceDat")]
    public ulong DecodeEveryFieldZstd() => DecodeAll(_zstd);

    [Benchmark(OperationsPerInvoke = Faults * 3)]
    [BenchmarkCategory("TraceDat")]
    public ulong TypedKvmEvents()
    {
        ulong sum = 0;
        var d = new KvmEventDecoder();
        using var reader = TraceFile.OpenReader(_none);
        while (reader.MoveNext(out var r))
        {
            if (d.TryRead(r, out KvmPageFault pf))
            {
                sum += pf.FaultAddress;
            }
            else if (d.TryRead(r, out KvmMmuSpteRequested q))
            {
                sum += q.Pfn;
            }
        }

        return sum;
    }

    /// <summary>What the replay's decoding does per record: classify it, then read the typed event of its kind.</summary>
    [Benchmark(OperationsPerInvoke = Faults * 3)]
    [BenchmarkCategory("TraceDat")]
    public ulong ClassifyAndDecode()
    {
        ulong sum = 0;
        var d = new KvmEventDecoder();
        using var reader = TraceFile.OpenReader(_none);
        while (reader.MoveNext(out var r))
        {
            switch (d.Classify(r))
            {
                case KvmEventKind.PageFault when d.TryRead(r, out KvmPageFault pf):
                    sum += pf.FaultAddress ^ pf.ErrorCode;
                    break;
                case KvmEventKind.SpteRequested when d.TryRead(r, out KvmMmuSpteRequested q):
                    sum += q.Pfn + (ulong)q.Level;
                    break;
                case KvmEventKind.SetSpte when d.TryRead(r, out KvmMmuSetSpte s):
                    sum += s.Spte;
                    break;
            }
        }

        return sum;
    }

    private static ulong DecodeAll(string path)
    {
        ulong sum = 0;
        using var reader = TraceFile.OpenReader(path);
        while (reader.MoveNext(out var r))
        {
            foreach (var f in r.Format.EventFields)
            {
                sum += f.IsNumber ? r.GetUInt64(f) : (ulong)r.GetData(f).Length;
            }
        }

        return sum;
    }
}

/// <summary>Text ingest: scanning lines (baseline) against parsing tracefs text into records and typed events. One operation = one line.</summary>
[BenchmarkCategory("Tracing")]
[AllocationBudget(16, Reason = "the reader's 1 MiB block per open, spread over 100 000 lines")]
public class TracingTextBenchmarks
{
    private const int Lines = 100_000;
    private byte[] _text = [];

    [GlobalSetup]
    public void Setup() => _text = TracingFixtures.TracefsText(Lines);

    [Benchmark(Baseline = true, OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Text")]
    [AllocationBudget(0)]
    public int ScanLines()
    {
        int n = 0;
        var span = _text.AsSpan();
        int at;
        while ((at = span.IndexOf((byte)'\n')) >= 0)
        {
            n++;
            span = span[(at + 1)..];
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Text")]
    public long ParseRecords()
    {
        long n = 0;
        using var reader = new TextTraceReader(new MemoryStream(_text, writable: false), TraceFileKind.Tracefs, "bench");
        while (reader.MoveNext(out var r))
        {
            n += r.Pid;
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Text")]
    public ulong ParseTypedEvents()
    {
        ulong sum = 0;
        var d = new KvmEventDecoder();
        using var reader = new TextTraceReader(new MemoryStream(_text, writable: false), TraceFileKind.Tracefs, "bench");
        while (reader.MoveNext(out var r))
        {
            if (d.TryRead(r, out KvmPageFault pf))
            {
                sum += pf.FaultAddress;
            }
            else if (d.TryRead(r, out KvmMmuSpteRequested q))
            {
                sum += q.Pfn;
            }
        }

        return sum;
    }
}
