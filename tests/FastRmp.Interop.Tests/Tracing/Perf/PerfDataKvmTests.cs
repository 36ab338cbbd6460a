using System.Text.Json;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>The typed KVM events decode from perf.data as from trace.dat, with perf's values.</summary>
public class PerfDataKvmTests
{
    [Theory]
    [InlineData("kvm-long.data")]
    [InlineData("kvm-long-pipe.data")]
    [InlineData("kvm-long-zstd.data")]
    public void Kvm_userspace_exit_and_pio_decode_to_perfs_values(string name)
    {
        var expected = File.ReadAllLines(PerfFixtures.Path_(Path.ChangeExtension(name, ".perf-fields.jsonl")))
            .Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var decoder = new KvmEventDecoder();
        using var reader = TraceFile.OpenReader(PerfFixtures.Path_(name));
        int i = 0, exits = 0, pios = 0, walks = 0;
        while (reader.MoveNext(out var r))
        {
            var e = expected[i++];
            var fields = e.GetProperty("fields");
            if (decoder.Classify(r) == KvmEventKind.UserspaceExit)
            {
                Assert.True(decoder.TryRead(r, out KvmUserspaceExit u));
                Assert.Equal(fields.GetProperty("reason").GetUInt32(), u.Reason);
                Assert.Equal(fields.GetProperty("errno").GetInt32(), u.Errno);
                Assert.Contains(u.Reason, (uint[])[2, 5]); // KVM_EXIT_IO (out to port 0x10), KVM_EXIT_HLT (the last hlt)
                exits++;
            }
            else if (r.Format.FullName == "kvm:kvm_pio")
            {
                Assert.Equal(0x10UL, r.GetUInt64(r.Format.Require("port")));
                Assert.Equal(fields.GetProperty("val").GetUInt64(), r.GetUInt64(r.Format.Require("val")));
                pios++;
            }
            else if (r.Format.FullName == "kvmmmu:kvm_mmu_pagetable_walk")
            {
                Assert.Equal(fields.GetProperty("addr").GetUInt64(), r.GetUInt64(r.Format.Require("addr")));
                walks++;
            }
        }

        Assert.Equal(3, pios);
        Assert.True(exits >= 3, $"{exits} kvm_userspace_exit");
        Assert.True(walks > 0);
    }
}

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
