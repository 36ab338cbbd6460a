using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>
/// The round sort of perf.data samples (perf's ordered-events rule: by time, ties in file order) done as a natural
/// merge of the runs the file already holds, checked against a stable sort by (time, file order).
/// </summary>
public sealed class PerfMergeRunsTests
{
    [Theory]
    [InlineData(1, 1, 10)]
    [InlineData(2, 2, 1000)]
    [InlineData(3, 7, 5000)]
    [InlineData(4, 64, 3000)]
    [InlineData(5, 1, 1)]
    public void Runs_merge_into_time_order_with_ties_in_file_order(int seed, int cpus, int n)
    {
        var rng = new Random(seed);
        var clocks = new ulong[cpus];
        var entries = new PerfEntry[n];
        int i = 0;
        while (i < n)
        {
            // A chunk of one CPU's records, rising in time (ties allowed), as perf flushes a ring buffer.
            int cpu = rng.Next(cpus);
            int chunk = Math.Min(n - i, rng.Next(1, 50));
            for (int k = 0; k < chunk; k++, i++)
            {
                clocks[cpu] += (ulong)rng.Next(0, 3);
                entries[i] = new PerfEntry { Time = clocks[cpu], Seq = i, Cpu = cpu };
            }
        }

        var expected = entries.OrderBy(e => e.Time).ThenBy(e => e.Seq).Select(e => e.Seq).ToArray();
        PerfEntry[] scratch = [];
        PerfEventQueue.MergeRuns(entries, ref scratch);
        Assert.Equal(expected, entries.Select(e => e.Seq).ToArray());
    }
}
