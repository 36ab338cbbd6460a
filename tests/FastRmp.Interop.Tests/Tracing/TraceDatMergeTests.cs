using System.Buffers.Binary;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// The reader's merge of per-CPU streams (a heap of the CPUs' next records) and its block-wise reading of uncompressed
/// CPU data, on traces written by <see cref="TraceDatWriter"/>.
/// </summary>
public class TraceDatMergeTests
{
    private const string Format = "name: e\nID: 1500\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u64 v;\toffset:8;\tsize:8;\tsigned:0;\n\nprint fmt: \"v %llu\", REC->v\n";

    private static List<(ulong Ts, int Cpu, int Pid, ulong V)> Read(byte[] bytes, out TraceReadStats stats)
    {
        var ct = TestContext.Current.CancellationToken;
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        using var reader = file.CreateReader();
        var v = file.Formats.ByName("test:e")!.Require("v");
        var list = new List<(ulong, int, int, ulong)>();
        while (reader.MoveNext(out var r))
        {
            ct.ThrowIfCancellationRequested();
            list.Add((r.Timestamp, r.Cpu, r.Pid, r.GetUInt64(v)));
        }

        stats = reader.Stats;
        return list;
    }

    [Theory(Timeout = 60_000)]
    [InlineData(6, "none", false)]
    [InlineData(7, "none", true)]
    [InlineData(7, "zstd", false)]
    public void Records_of_many_cpus_come_out_by_timestamp_with_ties_in_cpu_order(int version, string compression, bool bigEndian)
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();

        // 37 CPUs, some empty, timestamps from a narrow range so that many records tie across CPUs.
        const int Cpus = 37;
        var rng = new Random(6);
        var w = new TraceDatWriter(new TraceDatWriterOptions(version, compression, Cpus: Cpus, BigEndian: bigEndian));
        var b = new RecordBuilder(w.AddFormat("test", Format), bigEndian: bigEndian);
        var expected = new List<(ulong Ts, int Cpu, int Pid, ulong V)>();
        ulong next = 0;
        for (int cpu = 0; cpu < Cpus; cpu++)
        {
            int count = cpu % 9 == 4 ? 0 : rng.Next(1, 400);
            ulong ts = (ulong)rng.Next(0, 50);
            for (int i = 0; i < count; i++)
            {
                ts += (ulong)rng.Next(0, 3);
                int pid = rng.Next(1, 100_000);
                w.AddRecord(cpu, ts, b.Reset().Set("common_pid", (ulong)pid).Set("v", next).Bytes);
                expected.Add((ts, cpu, pid, next++));
            }
        }

        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var records = Read(ms.ToArray(), out var stats);

        // Within one CPU the order is the file's; across CPUs the earlier timestamp, then the lower CPU.
        var order = expected.OrderBy(e => e.Ts).ThenBy(e => e.Cpu).ThenBy(e => e.V).ToList();
        Assert.Equal(order, records);
        Assert.Equal(0, stats.DamageCount);
    }

    [Fact(Timeout = 60_000)]
    public void Cpu_data_longer_than_one_read_block_is_read_whole_and_damage_past_the_first_block_names_its_sub_buffer()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();

        // One CPU with data for about three read blocks; a sub-buffer in the second block gets an impossible commit.
        int block = CpuStream.BlockBytes(4096);
        int records = 3 * block / 20; // 20 bytes per entry (header and 16-byte payload)
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "none", Cpus: 1));
        var b = new RecordBuilder(w.AddFormat("test", Format));
        for (int i = 0; i < records; i++)
        {
            w.AddRecord(0, (ulong)(1000 + i), b.Reset().Set("v", (ulong)i).Bytes);
        }

        using var ms = new MemoryStream();
        w.WriteTo(ms);
        var bytes = ms.ToArray();
        var all = Read(bytes, out _);
        Assert.Equal(Enumerable.Range(0, records).Select(i => (ulong)i), all.Select(r => r.V));

        using (var file = TraceDatFile.Open(TraceInput.FromMemory(bytes)))
        {
            var cpu = file.Buffers[0].Cpus[0];
            Assert.True(cpu.Size > 2L * block, "the CPU's data must span more than two read blocks");
            long page = cpu.Offset + block + (5 * 4096);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)page + 8), 0x00FF_FFFF);
            var after = Read(bytes, out var stats);
            var damage = Assert.Single(stats.Damage);
            Assert.Equal((0, page), (damage.Cpu, damage.Offset));
            var missing = all.Select(r => r.V).Except(after.Select(r => r.V)).ToList();
            Assert.NotEmpty(missing);
            Assert.Equal(missing.Count, (int)(missing.Max() - missing.Min() + 1)); // one sub-buffer's run of records
            Assert.Equal(all.Count - missing.Count, after.Count);
        }
    }
}
