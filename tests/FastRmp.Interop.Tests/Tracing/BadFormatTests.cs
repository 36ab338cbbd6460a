using System.Text;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// One event format FastRmp cannot read (issue 18, item 8: the whole trace was refused while trace-cmd showed every
/// record): that event's records are counted as unknown, the others are read, and the format's error is kept.
/// </summary>
public sealed class BadFormatTests
{
    private static string Format(string name, int id) => $"name: {name}\nID: {id}\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u32 v;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"v %u\", REC->v\n";

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void An_unreadable_format_costs_only_its_events_records(int version)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(version, "none", Cpus: 1));
        var good = w.AddFormat("test", Format("good", 1500));
        var bad = w.AddFormat("test", Format("bad", 1501));
        for (uint i = 0; i < 10; i++)
        {
            w.AddRecord(0, 1000 + (2 * i), new RecordBuilder(good).Set("v", i).Bytes);
            w.AddRecord(0, 1001 + (2 * i), new RecordBuilder(bad).Set("v", i).Bytes);
        }

        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var bytes = ms.ToArray();
        var marker = Encoding.ASCII.GetBytes("ID: 1501");
        int at = bytes.AsSpan().IndexOf(marker);
        Assert.True(at > 0);
        Encoding.ASCII.GetBytes("ID: 15x1").CopyTo(bytes, at); // an ID line the parser cannot read

        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        Assert.Contains("bad ID", Assert.Single(file.FormatErrors), StringComparison.Ordinal);
        using var reader = file.CreateReader();
        int read = 0;
        while (reader.MoveNext(out var r))
        {
            Assert.Equal("test:good", r.Format.FullName);
            read++;
        }

        Assert.Equal(10, read);
        Assert.Equal(10, reader.Stats.UnknownEventRecords);
        Assert.Equal(file.FormatErrors, reader.Stats.FormatErrors); // what 'info' lists
    }
}
