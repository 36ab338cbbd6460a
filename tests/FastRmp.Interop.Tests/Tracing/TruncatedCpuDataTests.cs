using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// A trace.dat cut inside its CPU data (issue 18, item 12: v6 and uncompressed v7 files were refused whole because the
/// flyrecord table's size runs past the end): every complete sub-buffer is read, in order, and the cut is damage.
/// </summary>
public sealed class TruncatedCpuDataTests
{
    private const string Format = "name: e\nID: 1500\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u32 v;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"v %u\", REC->v\n";

    private static List<uint> Read(byte[] bytes, out TraceReadStats stats)
    {
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        using var reader = file.CreateReader();
        var v = file.Formats.ByName("test:e")!.Require("v");
        var list = new List<uint>();
        while (reader.MoveNext(out var r))
        {
            list.Add((uint)r.GetUInt64(v));
        }

        stats = reader.Stats;
        return list;
    }

    [Theory]
    [InlineData(6)]
    public void A_file_cut_inside_its_cpu_data_keeps_every_complete_page(int version)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(version, "none", Cpus: 1));
        var f = w.AddFormat("test", Format);
        for (uint i = 0; i < 2000; i++)
        {
            w.AddRecord(0, 1000 + i, new RecordBuilder(f).Set("v", i).Bytes);
        }

        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var whole = ms.ToArray();
        long dataAt;
        using (var file = TraceDatFile.Open(TraceInput.FromMemory(whole)))
        {
            dataAt = file.Buffers[0].Cpus[0].Offset;
        }

        var all = Read(whole, out _);
        Assert.Equal(2000, all.Count);

        // cut three and a half pages into the CPU data: the first three pages are whole
        var cut = whole.AsSpan(0, (int)dataAt + (3 * 4096) + 2048).ToArray();
        var some = Read(cut, out var stats);
        Assert.InRange(some.Count, 1, all.Count - 1);
        Assert.Equal(all.Take(some.Count), some); // a prefix, in order
        Assert.Contains(stats.Damage, d => d.Description.Contains("truncated", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("vm-sched-kmem-v6.dat")]
    public void A_recorded_file_cut_at_95_percent_keeps_what_its_complete_pages_hold(string name)
    {
        // trace-cmd 3.1 refuses the cut file; FastRmp reads the complete sub-buffers before the cut and reports it.
        // (A v7 file cut inside its data loses the options section trace-cmd writes after the data, which holds the
        // BUFFER option locating each CPU's data: not recovered yet.)
        var whole = File.ReadAllBytes(Samples.Path_("tracecmd-dat/" + name));
        int full = Count(whole, out _);
        var cut = whole.AsSpan(0, whole.Length * 95 / 100).ToArray();
        int some = Count(cut, out var stats);
        Assert.InRange(some, 1, full - 1);
        Assert.NotEmpty(stats.Damage);
    }

    private static int Count(byte[] bytes, out TraceReadStats stats)
    {
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        using var reader = file.CreateReader();
        int n = 0;
        while (reader.MoveNext(out _))
        {
            n++;
        }

        stats = reader.Stats;
        return n;
    }
}
