using System.Buffers.Binary;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// A CPU section (or decompressed chunk) shorter than one sub-buffer header (issue 18, item 1: an 8-byte CPU data
/// section made <c>info</c> die with ArgumentOutOfRangeException in <c>CpuStream.NextPage</c>): the stream reports
/// the damage and ends, with no record.
/// </summary>
[Collection(AllocationMeasuring.Name)]
public sealed class CpuStreamShortTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(15)]
    public void A_cpu_section_shorter_than_a_page_header_is_damage_not_a_crash(int bytes)
    {
        var data = new byte[4096 + bytes];
        var stats = new TraceReadStats();
        var layout = new PageHeaderLayout(CommitOffset: 8, CommitSize: 8, DataOffset: 16); // x86-64: u64 timestamp, u64 commit
        var stream = new CpuStream(TraceInput.FromMemory(data), new CpuData(0, 4096, bytes), 4096, layout, bigEndian: false, compressed: false, decompressor: null, stats);
        Assert.False(stream.MoveNext());
        Assert.Equal(1, stats.DamageCount);
    }

    [Fact]
    public void A_compressed_chunk_claiming_far_more_than_trace_cmd_writes_is_refused_before_it_is_allocated()
    {
        // issue 18, item 4: chunks that each claimed 255 MiB made 'info' use 4.2 GB. trace-cmd writes 10 pages per
        // chunk; a chunk claiming more than 256 pages is damage, found before any buffer of that size exists.
        const string Format = "name: e\nID: 1500\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
            + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u32 v;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"v %u\", REC->v\n";
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "zstd", Cpus: 1));
        var f = w.AddFormat("test", Format);
        w.AddRecord(0, 1, new RecordBuilder(f).Bytes);
        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var bytes = ms.ToArray();
        long chunk;
        using (var file = TraceDatFile.Open(TraceInput.FromMemory(bytes)))
        {
            chunk = file.Buffers[0].Cpus[0].Offset; // u32 chunk count, then u32 csize, u32 usize, data
        }

        // 1.5 MiB: within the compression-ratio bound for this chunk's compressed size, beyond 256 pages of 4 KiB
        uint csize = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)chunk + 4));
        Assert.True(1536u << 10 <= (csize * 32768UL) + (1 << 20), $"csize {csize}");
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)chunk + 8), 1536u << 10);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        using (var file = TraceDatFile.Open(TraceInput.FromMemory(bytes)))
        using (var reader = file.CreateReader())
        {
            Assert.False(reader.MoveNext(out _));
            var damage = Assert.Single(reader.Stats.Damage);
            Assert.Contains("impossible sizes", damage.Description, StringComparison.Ordinal);
        }

        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 1 << 20, "no buffer for the claimed size");
    }
}
