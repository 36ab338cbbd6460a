using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>Records come out in timestamp order; the ordering window is bounded and its overflow counted.</summary>
public class PerfDataOrderTests
{
    [Fact]
    public void A_two_cpu_recording_comes_out_in_time_order()
    {
        using var reader = TraceFile.OpenReader(Samples.Path_("perf/vm-perf-tracepoints-a.data"));
        ulong last = 0;
        var cpus = new HashSet<int>();
        int n = 0;
        while (reader.MoveNext(out var r))
        {
            Assert.True(r.Timestamp >= last, $"record {n}: {r.Timestamp} after {last}");
            last = r.Timestamp;
            cpus.Add(r.Cpu);
            n++;
        }

        Assert.Equal(120, n);
        Assert.Equal(2, cpus.Count);
        Assert.Equal(0, reader.Stats.UnorderedRecords);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    public void A_full_window_releases_early_counts_it_and_loses_nothing(int window)
    {
        var all = Read(PerfDataFile.Open(Samples.Path_("perf/vm-perf-tracepoints-a.data")), PerfEventQueue.MaxEntries, out var fullStats);
        var small = Read(PerfDataFile.Open(Samples.Path_("perf/vm-perf-tracepoints-a.data")), window, out var stats);
        Assert.Equal(0, fullStats.DamageCount);
        Assert.Equal(all.Order(), small.Order());
        Assert.True(stats.DamageCount > 0);
        Assert.Contains("ordering window full", stats.Damage[0].Description, StringComparison.Ordinal);
        int inversions = small.Zip(small.Skip(1)).Count(p => p.Second.Time < p.First.Time);
        Assert.True(stats.UnorderedRecords >= (inversions > 0 ? 1 : 0));
    }

    private static List<(ulong Time, int Cpu, string Event)> Read(PerfDataFile file, int window, out TraceReadStats stats)
    {
        using (file)
        {
            using var reader = file.CreateReader(window);
            var list = new List<(ulong, int, string)>();
            while (reader.MoveNext(out var r))
            {
                list.Add((r.Timestamp, r.Cpu, r.Format.FullName));
            }

            stats = reader.Stats;
            return list;
        }
    }
}
