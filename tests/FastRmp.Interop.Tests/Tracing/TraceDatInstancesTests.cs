using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

public sealed class TraceDatInstancesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-instances-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Write(string path, int version, string compression, Action<TraceDatWriter, RecordBuilder> fill)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(version, compression, Cpus: 2));
        var f = w.AddFormat("kvmmmu", "name: kvm_mmu_spte_requested\nID: 1500\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
            + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u64 pfn;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:u8 level;\toffset:24;\tsize:1;\tsigned:0;\n\nprint fmt: \"gfn %llx pfn %llx level %d\", REC->gfn, REC->pfn, REC->level\n");
        fill(w, new RecordBuilder(f));
        w.Save(path);
        return path;
    }

    private static List<(ulong Ts, int Cpu, ulong Gfn)> Read(TraceDatFile file, string instance)
    {
        var list = new List<(ulong, int, ulong)>();
        using var reader = file.CreateReader(instance);
        var gfn = file.Formats.ByName("kvmmmu:kvm_mmu_spte_requested")!.Require("gfn");
        var ct = TestContext.Current.CancellationToken;
        while (reader.MoveNext(out var r))
        {
            ct.ThrowIfCancellationRequested();
            list.Add((r.Timestamp, r.Cpu, r.GetUInt64(gfn)));
        }

        return list;
    }

    [Theory]
    [InlineData(6, "none")]
    [InlineData(7, "none")]
    [InlineData(7, "zstd")]
    public void Named_buffer_instances_are_listed_and_read_separately(int version, string compression)
    {
        string path = Write(Path.Combine(_dir, $"inst-{version}-{compression}.dat"), version, compression, (w, b) =>
        {
            w.AddRecord(0, 100, b.Reset().Set("gfn", 1).Bytes);
            w.AddRecord(1, 50, b.Reset().Set("gfn", 2).Bytes);
            w.AddRecord("guest", 1, 70, b.Reset().Set("gfn", 3).Bytes);
            w.AddRecord("guest", 1, 80, b.Reset().Set("gfn", 4).Bytes);
        });
        using var file = TraceDatFile.Open(path);
        Assert.Equal(["", "guest"], file.Buffers.Select(x => x.Name));
        Assert.Equal([(50UL, 1, 2UL), (100UL, 0, 1UL)], Read(file, ""));
        Assert.Equal([(70UL, 1, 3UL), (80UL, 1, 4UL)], Read(file, "guest"));
        Assert.Throws<ArgumentException>(() => file.CreateReader("nope"));
    }

    [Fact]
    public void Ties_are_delivered_in_cpu_order()
    {
        string path = Write(Path.Combine(_dir, "ties.dat"), 7, "none", (w, b) =>
        {
            w.AddRecord(1, 10, b.Reset().Set("gfn", 11).Bytes);
            w.AddRecord(0, 10, b.Reset().Set("gfn", 10).Bytes);
            w.AddRecord(1, 20, b.Reset().Set("gfn", 21).Bytes);
            w.AddRecord(0, 20, b.Reset().Set("gfn", 20).Bytes);
        });
        using var file = TraceDatFile.Open(path);
        Assert.Equal([10UL, 11UL, 20UL, 21UL], Read(file, "").Select(x => x.Gfn));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void Offset_and_tsc2nsec_options_convert_timestamps(int version)
    {
        string path = Write(Path.Combine(_dir, $"ts-{version}.dat"), version, "none", (w, b) =>
        {
            w.SetTsc2Nsec(mult: 3, shift: 1, offset: 0);
            w.SetTimestampOffset(1_000_000);
            w.AddRecord(0, 1000, b.Reset().Set("gfn", 1).Bytes);
            w.AddRecord(0, 1_000_000_000, b.Reset().Set("gfn", 2).Bytes);
        });
        using var file = TraceDatFile.Open(path);
        Assert.Equal(1_000_000, file.TimestampOffset);
        Assert.Equal((3u, 1u, 0L), file.Tsc2Nsec);
        Assert.Equal([1500UL + 1_000_000, 1_500_000_000UL + 1_000_000], Read(file, "").Select(x => x.Ts));
    }

    [Theory]
    [InlineData(6, "none")]
    [InlineData(7, "zstd")]
    public void Trace_cmd_agrees_on_instances_and_converted_timestamps(int version, string compression)
    {
        string traceCmd = Samples.RequireTraceCmd();
        string path = Write(Path.Combine(_dir, $"oracle-{version}.dat"), version, compression, (w, b) =>
        {
            w.SetTsc2Nsec(mult: 3, shift: 1, offset: 0);
            w.SetTimestampOffset(1_000_000);
            w.AddRecord(0, 1000, b.Reset().Set("gfn", 1).Bytes);
            w.AddRecord(1, 1_000_000_000, b.Reset().Set("gfn", 2).Bytes);
            w.AddRecord("guest", 1, 70, b.Reset().Set("gfn", 3).Bytes);
        });
        using var file = TraceDatFile.Open(path);
        var mine = file.Buffers.SelectMany(x => Read(file, x.Name)).Select(x => $"{x.Ts} {x.Cpu} {x.Gfn:x}").Order(StringComparer.Ordinal).ToList();
        var expected = Samples.Run(traceCmd, "report", "-t", path).Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"\[(\d+)\]\s+(\d+)\.(\d{9}):.*gfn ([0-9a-f]+)"))
            .Where(m => m.Success)
            .Select(m => $"{(ulong.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) * 1_000_000_000UL) + ulong.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)} {int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)} {m.Groups[4].Value}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, mine);
    }
}
