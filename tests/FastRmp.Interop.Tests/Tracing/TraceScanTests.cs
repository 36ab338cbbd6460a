using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// <see cref="TraceScan"/> reads the same records as the one-core ordered reader: per CPU, the same records in the same
/// order (a trace.dat's CPUs are independent streams, traces.md 2.2/2.3, so the merged reader filtered to one CPU is
/// that CPU's stream), the same statistics, and results that do not depend on the number of threads.
/// </summary>
public sealed class TraceScanTests
{
    public static TheoryData<string> Inputs() =>
        Samples.Theory("tracecmd-dat/*.dat", "tracecmd-dat-public/*.dat", "perf/*", "text-local/report-*.txt");

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_sample_reads_the_same_per_cpu_records_as_the_ordered_reader(string relative)
    {
        string path = Samples.Path_(relative);
        AssertSameAsOrdered(path);
    }

    [Theory]
    [InlineData(6, "none")]
    [InlineData(7, "none")]
    [InlineData(7, "zlib")]
    [InlineData(7, "zstd")]
    public void Generated_traces_of_every_version_and_compression_read_the_same(int version, string compression)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-scan-{version}-{compression}-{Environment.ProcessId}.dat");
        try
        {
            int written = KvmFixture.Write(path, new TraceDatWriterOptions(version, compression), faults: 3000);
            var (parts, stats) = Scan(path, threads: 2);
            Assert.Equal(written, parts.Sum(p => p.Count));
            Assert.Equal(2, parts.Count); // KvmFixture writes 2 CPUs: one part each
            Assert.Equal(0, stats.DamageCount);
            AssertSameAsOrdered(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Damage_on_each_cpu_is_merged_in_cpu_order_whatever_the_threads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-scan-damage-{Environment.ProcessId}.dat");
        try
        {
            KvmFixture.Write(path, new TraceDatWriterOptions(7, "none"), faults: 4000);
            var bytes = File.ReadAllBytes(path);
            using (var file = TraceDatFile.Open(TraceInput.FromMemory(bytes)))
            {
                // Breaks the commit word of the second page of each CPU (page header: u64 timestamp, then commit).
                foreach (var cpu in file.Buffers[0].Cpus)
                {
                    long page = cpu.Offset + file.PageSize;
                    BitConverter.TryWriteBytes(bytes.AsSpan((int)page + 8, 8), 0x7fffffL);
                }
            }

            File.WriteAllBytes(path, bytes);
            var (one, stats1) = Scan(path, threads: 1);
            var (two, stats2) = Scan(path, threads: 2);
            Assert.Equal(2, stats1.DamageCount);
            Assert.Equal(stats1.Damage, stats2.Damage);
            Assert.Equal([0, 1], stats1.Damage.Select(d => d.Cpu));
            Assert.Equal(one.Select(p => p.Count), two.Select(p => p.Count));
            AssertSameAsOrdered(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_part_that_fails_is_reported_after_the_others_are_read()
    {
        // A text trace is one part read on the calling thread; a visitor's exception is the caller's, unchanged.
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-scan-throw-{Environment.ProcessId}.dat");
        try
        {
            KvmFixture.Write(path, new TraceDatWriterOptions(7, "zstd"), faults: 100);
            using var reader = TraceFile.OpenReader(path);
            int seen = 0;
            var ex = Assert.Throws<InvalidOperationException>(() => TraceScan.Run(reader, () => 0, (int _, in TraceRecord r) =>
            {
                if (Interlocked.Increment(ref seen) == 50)
                {
                    throw new InvalidOperationException("visitor");
                }
            }, 1));
            Assert.Equal("visitor", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertSameAsOrdered(string path)
    {
        try
        {
            TraceFile.OpenReader(path).Dispose();
        }
        catch (TraceFormatException refused)
        {
            // An input the reader refuses is refused the same way: nothing to compare record by record.
            var ex = Assert.Throws<TraceFormatException>(() => Scan(path, threads: 2));
            Assert.Equal(refused.Message, ex.Message);
            return;
        }

        var ordered = new Dictionary<int, List<ulong>>();
        TraceReadStats orderedStats;
        using (var reader = TraceFile.OpenReader(path))
        {
            while (reader.MoveNext(out var r))
            {
                if (!ordered.TryGetValue(r.Cpu, out var list))
                {
                    ordered[r.Cpu] = list = [];
                }

                list.Add(Fingerprint(r));
            }

            orderedStats = reader.Stats;
        }

        var (one, stats1) = Scan(path, threads: 1);
        var (three, stats3) = Scan(path, threads: 3);
        Assert.Equal(one.Count, three.Count);
        for (int i = 0; i < one.Count; i++)
        {
            Assert.Equal(one[i], three[i]);
        }

        // Each part, split by CPU, is that CPU's records in the ordered reader's order.
        var byCpu = new Dictionary<int, List<ulong>>();
        foreach (var part in one)
        {
            foreach (var (cpu, print) in part)
            {
                if (!byCpu.TryGetValue(cpu, out var list))
                {
                    byCpu[cpu] = list = [];
                }

                list.Add(print);
            }
        }

        Assert.Equal(ordered.Keys.Order(), byCpu.Keys.Order());
        foreach (var (cpu, list) in ordered)
        {
            Assert.Equal(list, byCpu[cpu]);
        }

        Assert.Equal(orderedStats.DamageCount, stats1.DamageCount);
        Assert.Equal(orderedStats.Damage.OrderBy(d => (d.Cpu, d.Offset)), stats1.Damage.OrderBy(d => (d.Cpu, d.Offset)));
        Assert.Equal(orderedStats.LostEvents, stats1.LostEvents);
        Assert.Equal(orderedStats.LostEventMarks, stats1.LostEventMarks);
        Assert.Equal(orderedStats.UnknownEventRecords, stats1.UnknownEventRecords);
        Assert.Equal(orderedStats.FormatErrors, stats1.FormatErrors);
        Assert.Equal(stats1.Damage, stats3.Damage);
    }

    private static (List<List<(int Cpu, ulong Print)>> Parts, TraceReadStats Stats) Scan(string path, int threads)
    {
        using var reader = TraceFile.OpenReader(path);
        var result = TraceScan.Run(reader, () => new List<(int, ulong)>(), (List<(int, ulong)> list, in TraceRecord r) => list.Add((r.Cpu, Fingerprint(r))), threads);
        return ([.. result.Parts], result.Stats);
    }

    /// <summary>A hash (FNV-1a, 64-bit) of everything a record says: time, CPU, pid, comm, event, bytes or text.</summary>
    private static ulong Fingerprint(in TraceRecord r)
    {
        ulong h = 14695981039346656037;
        void Add(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
            {
                h = (h ^ b) * 1099511628211;
            }
        }

        Add(BitConverter.GetBytes(r.Timestamp));
        Add(BitConverter.GetBytes(r.Cpu));
        Add(BitConverter.GetBytes(r.Pid));
        Add(BitConverter.GetBytes(r.Tgid));
        Add(System.Text.Encoding.UTF8.GetBytes(r.Comm + "/" + r.Format.FullName));
        Add(r.Payload);
        Add(System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.Text));
        return h;
    }
}
