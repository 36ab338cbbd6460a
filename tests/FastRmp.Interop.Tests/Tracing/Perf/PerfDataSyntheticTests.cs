using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>What real recordings rarely show, on files written by <see cref="PerfDataBuilder"/>: late records, lost and throttle records, forks, other events, big-endian hosts.</summary>
public class PerfDataSyntheticTests
{
    private static List<(ulong Time, int Cpu, int Tid, int Pid, string Comm, ulong Reason, long Errno)> ReadAll(byte[] bytes, bool pipe, out TraceReadStats stats)
    {
        using var reader = pipe
            ? TraceFile.OpenReader(new MemoryStream(bytes, writable: false), "built")
            : PerfDataFile.Open(TraceInput.FromMemory(bytes, "built")).CreateReader();
        var list = new List<(ulong, int, int, int, string, ulong, long)>();
        while (reader.MoveNext(out var r))
        {
            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            list.Add((r.Timestamp, r.Cpu, r.Pid, r.Tgid, r.Comm, r.GetUInt64(r.Format.Require("reason")), r.GetInt64(r.Format.Require("errno"))));
        }

        stats = reader.Stats;
        return list;
    }

    private static PerfDataBuilder Rounds(bool bigEndian) => new PerfDataBuilder(bigEndian)
        .Comm(0, 100, 100, "qemu")
        .Sample(10, 0, 100, 100, 2, 0)
        .Sample(30, 0, 100, 100, 2, 0)
        .Sample(20, 1, 100, 100, 5, 0)
        .Round()
        .Sample(25, 1, 100, 100, 2, -14) // late: older than 30 of the previous round, still released in order
        .Sample(40, 0, 100, 100, 2, 0)
        .Round()
        .Sample(50, 1, 100, 100, 2, 0)
        .Round();

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Records_late_by_one_round_come_out_in_order_in_either_byte_order_and_mode(bool bigEndian, bool pipe)
    {
        var b = Rounds(bigEndian);
        var list = ReadAll(pipe ? b.BuildPipe() : b.Build(), pipe, out var stats);
        Assert.Equal([10UL, 20, 25, 30, 40, 50], list.Select(r => r.Time));
        Assert.Equal([0, 1, 1, 0, 0, 1], list.Select(r => r.Cpu));
        Assert.All(list, r => Assert.Equal(("qemu", 100, 100), (r.Comm, r.Tid, r.Pid)));
        Assert.Equal(-14, list[2].Errno);
        Assert.Equal(5UL, list[1].Reason);
        Assert.Equal(0, stats.UnorderedRecords);
        Assert.Equal(0, stats.DamageCount);
    }

    [Fact]
    public void A_record_older_than_what_was_delivered_is_delivered_and_counted_as_unordered()
    {
        var b = Rounds(false).Sample(60, 0, 100, 100, 2, 0).Round().Sample(15, 1, 100, 100, 2, 0).Round().Round();
        var list = ReadAll(b.Build(), false, out var stats);
        Assert.Equal(8, list.Count);
        Assert.Equal(1, stats.UnorderedRecords);
    }

    [Fact]
    public void Lost_and_throttle_records_are_counted()
    {
        var b = Rounds(false).Lost(17, 45).Lost(3, 46).Throttle(true, 47).Throttle(false, 48);
        var list = ReadAll(b.Build(), false, out var stats);
        Assert.Equal(6, list.Count);
        Assert.Equal(20, stats.LostEvents);
        Assert.Equal(2, stats.LostEventMarks);
        Assert.Equal(2, stats.ThrottleRecords);
    }

    [Fact]
    public void Comm_names_change_at_their_time_forks_inherit_and_unknown_threads_are_colon_tid()
    {
        var b = new PerfDataBuilder(false)
            .Comm(0, 100, 100, "perf")
            .Sample(10, 0, 100, 100, 2, 0)
            .Comm(15, 100, 100, "qemu") // exec
            .Sample(20, 0, 100, 100, 2, 0)
            .Fork(22, 100, 100, 101, 100) // a new thread of qemu
            .Sample(30, 1, 100, 101, 2, 0)
            .Sample(40, 1, 200, 200, 2, 0)
            .Sample(50, 1, 0, 0, 2, 0);
        var list = ReadAll(b.Build(), false, out _);
        Assert.Equal(["perf", "qemu", "qemu", ":200", "swapper"], list.Select(r => r.Comm));
        Assert.Equal(101, list[2].Tid);
        Assert.Equal(100, list[2].Pid);
    }

    [Fact]
    public void Samples_of_a_non_tracepoint_event_are_unknown_and_an_id_of_no_attr_is_damage()
    {
        var b = Rounds(false);
        b.WithOtherAttr = true;
        b.Sample(60, 0, 100, 100, 2, 0, PerfDataBuilder.OtherId).Sample(70, 0, 100, 100, 2, 0, 999);
        var list = ReadAll(b.Build(), false, out var stats);
        Assert.Equal(6, list.Count);
        Assert.Equal(1, stats.UnknownEventRecords);
        Assert.Equal(1, stats.DamageCount);
        Assert.Contains("belongs to no event attribute", stats.Damage[0].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Big_endian_metadata_is_read()
    {
        using var file = PerfDataFile.Open(TraceInput.FromMemory(Rounds(true).Build(), "be"));
        Assert.True(file.IsBigEndian);
        var attr = Assert.Single(file.Attrs);
        Assert.True(attr.SampleIdAll);
        Assert.True(attr.IsTracepoint);
        Assert.Equal(42UL, attr.Config);
        Assert.Equal([PerfDataBuilder.TracepointId], attr.Ids);
        Assert.Equal("from-cmdlines", file.Cmdlines[7]);
        Assert.NotNull(file.Formats.ByName("kvm:kvm_userspace_exit"));
    }

    [Fact]
    public void A_file_without_rounds_is_ordered_at_its_end()
    {
        var b = new PerfDataBuilder(false).Sample(30, 0, 1, 1, 2, 0).Sample(10, 1, 1, 1, 2, 0).Sample(20, 0, 1, 1, 2, 0);
        var list = ReadAll(b.Build(), false, out var stats);
        Assert.Equal([10UL, 20, 30], list.Select(r => r.Time));
        Assert.Equal(0, stats.DamageCount);
    }
}
