using System.Buffers.Binary;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

public class BadInputTests
{
    private static byte[] Sample(string name) => File.ReadAllBytes(Samples.Path_("tracecmd-dat/" + name));

    private static List<(ulong Ts, int Cpu, int Pid, string Ev)> ReadAll(byte[] bytes, out TraceReadStats stats)
    {
        var ct = TestContext.Current.CancellationToken;
        var list = new List<(ulong, int, int, string)>();
        using var file = TraceDatFile.Open(TraceInput.FromMemory(bytes));
        using var reader = file.CreateReader();
        while (reader.MoveNext(out var r))
        {
            ct.ThrowIfCancellationRequested();
            list.Add((r.Timestamp, r.Cpu, r.Pid, r.Format.FullName));
        }

        stats = reader.Stats;
        return list;
    }

    [Fact]
    public void Wrong_magic_is_reported_at_offset_zero()
    {
        var b = Sample("vm-sched-kmem-v7-zstd.dat");
        b[1] = 0x09;
        var ex = Assert.Throws<TraceFormatException>(() => TraceDatFile.Open(TraceInput.FromMemory(b)));
        Assert.Contains("wrong magic at offset 0x0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_version_is_named()
    {
        var b = Sample("vm-sched-kmem-v7-zstd.dat");
        b[10] = (byte)'8';
        var ex = Assert.Throws<TraceFormatException>(() => TraceDatFile.Open(TraceInput.FromMemory(b)));
        Assert.Contains("unsupported trace.dat version '8'", ex.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("vm-sched-kmem-v7-nocompress.dat")]
    [InlineData("vm-sched-kmem-v7-zstd.dat")]
    public void Truncation_at_every_section_boundary_names_an_offset_or_reports_damage(string name)
    {
        var full = Sample(name);
        int total = ReadAll(full, out _).Count;
        using var file = TraceDatFile.Open(TraceInput.FromMemory(full));
        var cuts = new SortedSet<long> { 0, 3, 10, 12, 17, 18, 24 };
        foreach (var o in file.Options)
        {
            cuts.Add(o.FileOffset);
            cuts.Add(o.FileOffset - 6);
            if (o.Id is >= 16 and <= 21 && o.Data.Length == 8)
            {
                long at = (long)BinaryPrimitives.ReadUInt64LittleEndian(o.Data.Span);
                cuts.UnionWith([at, at + 2, at + 8, at + 16, at + 20]);
            }
        }

        foreach (var cpu in file.Buffers.SelectMany(b => b.Cpus))
        {
            cuts.UnionWith([cpu.Offset, cpu.Offset + 4, cpu.Offset + 100, cpu.Offset + cpu.Size - 1]);
        }

        Assert.True(cuts.Count > 20);
        var ct = TestContext.Current.CancellationToken;
        foreach (long cut in cuts.Where(c => c >= 0 && c < full.Length))
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                var records = ReadAll(full[..(int)cut], out var stats);
                Assert.True(records.Count < total || stats.DamageCount == 0, $"cut at {cut}");
                Assert.True(records.Count == total || stats.DamageCount > 0, $"cut at 0x{cut:x}: {records.Count} of {total} records and no damage reported");
                Assert.All(stats.Damage, d => Assert.Contains("offset 0x", d.ToString(), StringComparison.Ordinal));
            }
            catch (TraceFormatException ex)
            {
                Assert.Matches("offset 0x[0-9a-f]+|truncated|outside the file|runs past", ex.Message);
            }
        }
    }

    [Fact(Timeout = 30_000)]
    public void A_corrupt_commit_in_one_sub_buffer_skips_only_that_sub_buffer_and_names_cpu_and_offset()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        var good = Sample("vm-sched-kmem-v6.dat");
        var before = ReadAll(good, out _);
        using var file = TraceDatFile.Open(TraceInput.FromMemory(good));
        var cpu1 = file.Buffers[0].Cpus.Single(c => c.Cpu == 1);
        Assert.True(cpu1.Size >= 3 * 4096, "the sample needs three pages on CPU 1");
        long page = cpu1.Offset + 4096;
        var bad = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan((int)page + 8), 0x00FF_FFFF);
        var after = ReadAll(bad, out var stats);

        var damage = Assert.Single(stats.Damage);
        Assert.Equal(1, damage.Cpu);
        Assert.Equal(page, damage.Offset);
        Assert.StartsWith($"skipped corrupt sub-buffer", damage.ToString(), StringComparison.Ordinal);
        Assert.Contains($"on CPU 1 at offset 0x{page:x}", damage.ToString(), StringComparison.Ordinal);
        var missing = before.Except(after).ToList();
        Assert.NotEmpty(missing);
        Assert.All(missing, m => Assert.Equal(1, m.Cpu));
        Assert.Empty(after.Except(before));
        // Records of CPU 1 before and after the damaged page are all delivered.
        var lost = missing.Select(m => m.Ts).ToList();
        Assert.Contains(after, a => a.Cpu == 1 && a.Ts < lost.Min());
        Assert.Contains(after, a => a.Cpu == 1 && a.Ts > lost.Max());
    }

    [Fact]
    public void A_cpu_data_offset_past_the_end_of_the_file_is_reported_with_the_table_offset()
    {
        var b = Sample("vm-sched-kmem-v6.dat");
        using var file = TraceDatFile.Open(TraceInput.FromMemory(b));
        long dataStart = file.Buffers[0].Cpus[0].Offset;
        // Find the flyrecord table: the u64 holding CPU 0's offset.
        int table = -1;
        for (int i = 0; i + 8 <= b.Length; i++)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(i)) == dataStart && i + 16 < dataStart)
            {
                table = i;
                break;
            }
        }

        Assert.True(table > 0);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(table), 1L << 40);
        var ex = Assert.Throws<TraceFormatException>(() => TraceDatFile.Open(TraceInput.FromMemory(b)));
        Assert.Contains($"table entry at offset 0x{table:x}", ex.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public void Corrupt_compressed_chunk_is_skipped_and_reported()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        var b = Sample("vm-sched-kmem-v7-zstd.dat");
        using var file = TraceDatFile.Open(TraceInput.FromMemory(b));
        var cpu = file.Buffers[0].Cpus.First(c => c.Size > 64);
        // first chunk: u32 count, u32 csize, u32 usize, data -> garble the zstd frame magic
        int data = (int)cpu.Offset + 12;
        b[data] ^= 0xFF;
        b[data + 1] ^= 0xFF;
        _ = ReadAll(b, out var stats);
        var d = Assert.Single(stats.Damage);
        Assert.Equal(cpu.Cpu, d.Cpu);
        Assert.Equal(cpu.Offset + 4, d.Offset);
        Assert.Contains("compressed chunk", d.Description, StringComparison.Ordinal);
    }
}
