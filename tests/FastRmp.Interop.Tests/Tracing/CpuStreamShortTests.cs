using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// A CPU section (or decompressed chunk) shorter than one sub-buffer header (issue 18, item 1: an 8-byte CPU data
/// section made <c>info</c> die with ArgumentOutOfRangeException in <c>CpuStream.NextPage</c>): the stream reports
/// the damage and ends, with no record.
/// </summary>
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
}
