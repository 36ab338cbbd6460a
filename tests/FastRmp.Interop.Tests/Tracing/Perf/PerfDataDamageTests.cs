using System.Buffers.Binary;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>Untrusted perf.data: every kind of damage is a clean error naming where, or skipped and counted; nothing read is lost.</summary>
public class PerfDataDamageTests
{
    private static readonly byte[] s_file = File.ReadAllBytes(PerfFixtures.Path_("kvm-long.data"));
    private static readonly byte[] s_pipe = File.ReadAllBytes(PerfFixtures.Path_("kvm-long-pipe.data"));

    private sealed record Outcome(int Records, long Damage, string? Error, TraceReadStats? Stats);

    /// <summary>Reads bytes as a file-mode (or, with <paramref name="pipe"/>, streamed) perf.data; only TraceFormatException may escape the reader.</summary>
    private static Outcome Read(byte[] bytes, bool pipe = false, CancellationToken ct = default)
    {
        try
        {
            using var reader = pipe
                ? TraceFile.OpenReader(new MemoryStream(bytes, writable: false), "damaged")
                : PerfDataFile.Open(TraceInput.FromMemory(bytes, "damaged")).CreateReader();
            int n = 0;
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                foreach (var f in r.Format.Fields)
                {
                    _ = f.IsNumber ? r.GetUInt64(f) : (ulong)r.GetData(f).Length;
                }

                _ = r.Comm;
                n++;
            }

            return new Outcome(n, reader.Stats.DamageCount, null, reader.Stats);
        }
        catch (TraceFormatException ex)
        {
            return new Outcome(0, 0, ex.Message, null);
        }
    }

    [Fact(Timeout = 120_000)]
    public void A_file_cut_anywhere_is_an_error_naming_an_offset_never_a_crash()
    {
        var ct = TestContext.Current.CancellationToken;
        var cuts = Enumerable.Range(0, 140).Concat(Enumerable.Range(0, 160).Select(i => 140 + (i * 977))).Where(c => c < s_file.Length);
        foreach (int cut in cuts)
        {
            ct.ThrowIfCancellationRequested();
            var o = Read(s_file[..cut], ct: ct);
            // The feature table is written last: a cut file-mode perf.data has none, like a perf record killed early.
            Assert.True(o.Error is not null, $"cut at {cut}: read {o.Records} records");
            Assert.Matches(cut == 0 ? "empty|offset 0x" : "offset 0x", o.Error!);
        }
    }

    [Fact(Timeout = 120_000)]
    public void A_pipe_cut_in_its_records_keeps_every_record_before_the_cut_and_counts_the_cut()
    {
        var ct = TestContext.Current.CancellationToken;
        int full = Read(s_pipe, pipe: true, ct).Records;
        Assert.Equal(134, full);
        int previous = 0;
        for (int cut = s_pipe.Length - 1; cut > s_pipe.Length - 12000; cut -= 131)
        {
            ct.ThrowIfCancellationRequested();
            var o = Read(s_pipe[..cut], pipe: true, ct);
            Assert.Null(o.Error);
            Assert.True(o.Records <= full);
            previous = o.Records;
        }

        Assert.True(previous < full);
        for (int cut = 16; cut < 60000; cut += 1499)
        {
            ct.ThrowIfCancellationRequested();
            var o = Read(s_pipe[..cut], pipe: true, ct);
            Assert.True(o.Error is null || o.Error.Contains("offset 0x", StringComparison.Ordinal), o.Error);
        }
    }

    [Fact(Timeout = 60_000)]
    public void A_pipe_cut_mid_record_reports_the_cut_record_as_damage()
    {
        var records = PipeRecords(s_pipe);
        var last = records[^1];
        var o = Read(s_pipe[..(int)(last.Offset + 4)], pipe: true, TestContext.Current.CancellationToken);
        Assert.Null(o.Error);
        Assert.Equal(1, o.Damage);
        Assert.Contains("too few for a record header", o.Stats!.Damage[0].ToString(), StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(8, 0UL)] // header size
    [InlineData(8, 1UL << 63)]
    [InlineData(16, 0UL)] // attr_size 0
    [InlineData(16, 1UL << 63)]
    [InlineData(16, 17UL)]
    [InlineData(24, 1UL << 63)] // attrs offset
    [InlineData(32, 1UL << 63)] // attrs size
    [InlineData(32, 0xFFFFFFFFFFFFFFF0UL)]
    [InlineData(40, 1UL << 63)] // data offset
    [InlineData(40, 0xFFFFFFFFFFFFFFFFUL)]
    [InlineData(48, 1UL << 63)] // data size
    [InlineData(48, 0UL)]
    [InlineData(72, 0xFFFFFFFFFFFFFFFFUL)] // every feature bit
    public void A_bad_header_field_is_a_clean_error_naming_an_offset(int at, ulong value)
    {
        var bytes = (byte[])s_file.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
        var o = Read(bytes, ct: TestContext.Current.CancellationToken);
        Assert.True(o.Error is not null, $"{o.Records} records");
        Assert.Contains("offset 0x", o.Error, StringComparison.Ordinal);
        Assert.Contains("damaged", o.Error, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void A_huge_ids_section_or_attr_size_in_an_attr_entry_is_a_clean_error()
    {
        long attrs = (long)BinaryPrimitives.ReadUInt64LittleEndian(s_file.AsSpan(24));
        int attrSize = (int)BinaryPrimitives.ReadUInt64LittleEndian(s_file.AsSpan(16));
        foreach (ulong v in new[] { 1UL << 63, ulong.MaxValue, (ulong)s_file.Length })
        {
            var bytes = (byte[])s_file.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)attrs + attrSize - 8), v); // ids size
            Assert.Contains("offset 0x", Read(bytes, ct: TestContext.Current.CancellationToken).Error, StringComparison.Ordinal);
            bytes = (byte[])s_file.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)attrs + 4), 3); // perf_event_attr.size
            Assert.Contains("offset 0x", Read(bytes, ct: TestContext.Current.CancellationToken).Error, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 60_000)]
    public void A_record_of_size_zero_skips_the_rest_and_keeps_what_came_before()
    {
        var records = PerfFileSurgery.Records(s_file);
        var samples = records.Where(r => r.Type == 9).ToList();
        var bytes = (byte[])s_file.Clone();
        var victim = samples[100];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)victim.Offset + 6), 0);
        var o = Read(bytes, ct: TestContext.Current.CancellationToken);
        Assert.Null(o.Error);
        Assert.Equal(100, o.Records);
        Assert.Equal(1, o.Damage);
        Assert.Contains($"at offset 0x{victim.Offset:x}", o.Stats!.Damage[0].ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void A_sample_whose_raw_size_lies_is_skipped_and_counted()
    {
        var sample = PerfFileSurgery.Records(s_file).Where(r => r.Type == 9).ElementAt(7);
        var bytes = (byte[])s_file.Clone();
        // sample_type IP|TID|TIME|CPU|PERIOD|RAW|IDENTIFIER: the raw size is after 6 u64 words.
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)sample.Offset + 8 + 48), 0x7FFFFFF0);
        var o = Read(bytes, ct: TestContext.Current.CancellationToken);
        Assert.Null(o.Error);
        Assert.Equal(133, o.Records);
        Assert.Equal(1, o.Damage);
        Assert.Contains("shorter than its sample_type", o.Stats!.Damage[0].ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void A_data_section_past_the_end_reads_what_is_there_and_says_the_file_is_truncated()
    {
        // A file with no feature table (as when perf record is killed before it writes one) whose data size runs
        // past the end: the records there are read, the cut record and the missing bytes reported.
        var records = PerfFileSurgery.Records(s_file);
        var cut = records.Where(r => r.Type == 9).ElementAt(50);
        var bytes = s_file[..(int)(cut.Offset + 20)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(72), 0); // no features
        var ct = TestContext.Current.CancellationToken;
        var o = Read(bytes, ct: ct);
        Assert.Null(o.Error);
        Assert.Equal(0, o.Records); // no tracing data, so no formats: every sample is of an unknown event
        Assert.Equal(50, o.Stats!.UnknownEventRecords);
        Assert.Equal(2, o.Damage);
        Assert.Contains("cut off by the end of the data", o.Stats.Damage[0].Description, StringComparison.Ordinal);
        Assert.Contains("truncated file", o.Stats.Damage[1].Description, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void Rewriting_the_data_section_in_place_keeps_every_record()
    {
        var bytes = PerfFileSurgery.ReplaceData(s_file, s_file.AsSpan((int)PerfFileSurgery.DataOffset(s_file), (int)PerfFileSurgery.DataSize(s_file)).ToArray());
        Assert.Equal(134, Read(bytes, ct: TestContext.Current.CancellationToken).Records);
    }

    [Fact(Timeout = 120_000)]
    public void Random_corruption_of_the_data_and_metadata_never_crashes_or_hangs()
    {
        var ct = TestContext.Current.CancellationToken;
        var rng = new Random(20261204);
        long dataAt = PerfFileSurgery.DataOffset(s_file);
        for (int i = 0; i < 300; i++)
        {
            ct.ThrowIfCancellationRequested();
            var bytes = (byte[])(i % 3 == 0 ? s_pipe : s_file).Clone();
            int flips = rng.Next(1, 8);
            for (int k = 0; k < flips; k++)
            {
                int at = i % 2 == 0 ? rng.Next(bytes.Length) : (int)dataAt + rng.Next((int)PerfFileSurgery.DataSize(s_file));
                bytes[Math.Min(at, bytes.Length - 1)] = (byte)rng.Next(256);
            }

            PerfDataFuzzCheck(bytes);
        }
    }

    private static void PerfDataFuzzCheck(byte[] bytes) => PerfDataFuzz.Fuzz(bytes);

    private static List<(long Offset, uint Type, int Size)> PipeRecords(byte[] f)
    {
        var list = new List<(long, uint, int)>();
        int p = 16;
        while (p + 8 <= f.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(p));
            int size = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(p + 6));
            list.Add((p, type, size));
            if (type == 66)
            {
                uint extra = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(p + 8));
                p += size + (int)((extra + 7) & ~7u);
                continue;
            }

            p += size;
        }

        return list;
    }
}
