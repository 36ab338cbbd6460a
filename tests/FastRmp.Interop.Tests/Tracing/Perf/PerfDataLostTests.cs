using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>A real recording whose one-page buffer overflowed: lost events are counted like perf reports them.</summary>
public class PerfDataLostTests
{
    [Fact]
    public void Lost_and_lost_samples_records_add_up_to_perfs_count_and_every_record_is_perfs()
    {
        string[] perf = File.ReadAllLines(PerfFixtures.Path_("kvm-lost.perf-script.txt"));
        long expectedLost = File.ReadAllLines(PerfFixtures.Path_("kvm-lost.perf-report-D-lost.txt"))
            .Sum(l => long.Parse(l[(l.LastIndexOf(':') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
        using var reader = TraceFile.OpenReader(PerfFixtures.Path_("kvm-lost.data"));
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            var p = perf[i++].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(p[0], r.Comm);
            Assert.Equal(p[1], r.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(p[2], $"[{r.Cpu:D3}]");
            Assert.Equal(p[3], $"{r.Timestamp / 1_000_000_000}.{r.Timestamp % 1_000_000_000:D9}:");
            Assert.Equal(p[4], r.Format.FullName + ":");
        }

        Assert.Equal(perf.Length, i);
        Assert.Equal(3670, expectedLost);
        Assert.Equal(expectedLost, reader.Stats.LostEvents);
        Assert.Equal(8, reader.Stats.LostEventMarks);
        Assert.Equal(0, reader.Stats.DamageCount);
    }
}
