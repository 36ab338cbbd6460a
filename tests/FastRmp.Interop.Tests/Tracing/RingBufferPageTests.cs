using System.Buffers.Binary;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// Hand-made ring-buffer pages for entry types the samples and the writer do not produce. The expected timestamps of
/// the first test are what trace-cmd 3.1.6 reports for the same page (checked by hand: 1005, 134218733, 268435466).
/// </summary>
public class RingBufferPageTests
{
    private const string Format = "name: e\nID: 1500\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u32 v;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"v %u\", REC->v\n";

    /// <summary>A one-CPU v6 file whose only page is replaced by <paramref name="fill"/>'s bytes.</summary>
    private static byte[] FileWithPage(Action<Span<byte>> fill)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(6, "none", Cpus: 1));
        var f = w.AddFormat("test", Format);
        w.AddRecord(0, 1, new RecordBuilder(f).Bytes);
        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var bytes = ms.ToArray();
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        var page = bytes.AsSpan((int)file.Buffers[0].Cpus[0].Offset, 4096);
        page.Clear();
        fill(page);
        return bytes;
    }

    private static int Event(Span<byte> p, int at, uint typeLen, uint delta, uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p[at..], typeLen | (delta << 5));
        int data = at + 4;
        if (typeLen == 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p[data..], 12 + 4);
            data += 4;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(p[data..], 1500);
        BinaryPrimitives.WriteInt32LittleEndian(p[(data + 4)..], 7);
        BinaryPrimitives.WriteUInt32LittleEndian(p[(data + 8)..], v);
        return data + 12;
    }

    private static List<(ulong Ts, uint V)> Read(byte[] bytes, out TraceReadStats stats)
    {
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        using var reader = file.CreateReader();
        var v = file.Formats.ByName("test:e")!.Require("v");
        var list = new List<(ulong, uint)>();
        while (reader.MoveNext(out var r))
        {
            list.Add((r.Timestamp, (uint)r.GetUInt64(v)));
        }

        stats = reader.Stats;
        return list;
    }

    [Fact]
    public void Time_extend_padding_absolute_timestamp_and_long_form_entries_are_decoded()
    {
        var bytes = FileWithPage(p =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p, 1000);
            int at = Event(p, 16, 3, 5, 1);                                   // small event, +5
            BinaryPrimitives.WriteUInt32LittleEndian(p[at..], 30u);            // TIME_EXTEND: + (1 << 27)
            BinaryPrimitives.WriteUInt32LittleEndian(p[(at + 4)..], 1);
            at = Event(p, at + 8, 3, 0, 2);
            BinaryPrimitives.WriteUInt32LittleEndian(p[at..], 29u | (1u << 5)); // discarded event (padding with a length)
            BinaryPrimitives.WriteUInt32LittleEndian(p[(at + 4)..], 8);
            at += 12;
            BinaryPrimitives.WriteUInt32LittleEndian(p[at..], 31u | (7u << 5)); // absolute TIME_STAMP: (2 << 27) | 7
            BinaryPrimitives.WriteUInt32LittleEndian(p[(at + 4)..], 2);
            at = Event(p, at + 8, 0, 3, 3);                                   // type_len 0: length word
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], (ulong)(at - 16));
        });
        var records = Read(bytes, out var stats);
        Assert.Equal([(1005UL, 1u), (1005UL + (1UL << 27), 2u), ((2UL << 27) + 7 + 3, 3u)], records);
        Assert.Equal(0, stats.DamageCount);
    }

    [Fact]
    public void Lost_event_bits_and_the_stored_count_are_reported()
    {
        var bytes = FileWithPage(p =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p, 50);
            int at = Event(p, 16, 3, 1, 9);
            int size = at - 16;
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], (ulong)size | (1UL << 31) | (1UL << 30));
            BinaryPrimitives.WriteUInt64LittleEndian(p[at..], 12345);          // the count, a kernel long after the data
        });
        var records = Read(bytes, out var stats);
        Assert.Equal([(51UL, 9u)], records);
        Assert.Equal((12345L, 1L), (stats.LostEvents, stats.LostEventMarks));
    }

    [Fact]
    public void Padding_with_zero_delta_ends_the_page()
    {
        var bytes = FileWithPage(p =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p, 10);
            int at = Event(p, 16, 3, 0, 1);
            BinaryPrimitives.WriteUInt32LittleEndian(p[at..], 29u);            // rest of page unused
            _ = Event(p, at + 4, 3, 0, 2);                                     // never read
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], 200);
        });
        Assert.Equal([(10UL, 1u)], Read(bytes, out var stats));
        Assert.Equal(0, stats.DamageCount);
    }
}
