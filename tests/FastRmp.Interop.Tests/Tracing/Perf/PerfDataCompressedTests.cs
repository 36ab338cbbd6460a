using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>
/// PERF_RECORD_COMPRESSED beyond what perf -z wrote here: a real data section compressed by the test and cut into
/// compressed records of random sizes, so records inside span compressed records.
/// </summary>
public class PerfDataCompressedTests
{
    [Theory(Timeout = 60_000)]
    [InlineData(1, 40)]
    [InlineData(2, 300)]
    [InlineData(3, 5000)]
    public void A_data_section_compressed_into_small_records_reads_like_the_plain_file(int seed, int maxChunk)
    {
        byte[] plain = File.ReadAllBytes(PerfFixtures.Path_("kvm-long.data"));
        byte[] packed = PerfFileSurgery.CompressData(plain, seed, maxChunk);
        string[] expected = File.ReadAllLines(PerfFixtures.Path_("kvm-long.perf-fields.jsonl"));
        using var file = PerfDataFile.Open(TraceInput.FromMemory(packed, "packed"));
        using var reader = file.CreateReader();
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            PerfFixtures.Compare(r, expected[i], $"packed record {i}");
            i++;
        }

        Assert.Equal(expected.Length, i);
        Assert.Equal(0, reader.Stats.DamageCount);
    }

    [Fact(Timeout = 60_000)]
    public void A_compressed_record_that_does_not_decompress_is_counted_and_the_records_before_it_kept()
    {
        byte[] plain = File.ReadAllBytes(PerfFixtures.Path_("kvm-long.data"));
        var records = PerfFileSurgery.Records(plain);
        int split = records.Count / 2;
        byte[] packed = PerfFileSurgery.CompressData(plain, 7, 400, split, out long second);
        packed[second + 8] ^= 0xFF; // the second frame's zstd magic

        using var file = PerfDataFile.Open(TraceInput.FromMemory(packed, "packed"));
        using var reader = file.CreateReader();
        int n = 0;
        while (reader.MoveNext(out _))
        {
            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            n++;
        }

        int samplesBefore = records.Take(split).Count(r => r.Type == 9);
        Assert.Equal(samplesBefore, n);
        Assert.True(reader.Stats.DamageCount >= 1);
        Assert.Contains("does not decompress", reader.Stats.Damage[0].Description, StringComparison.Ordinal);
        Assert.Contains($"at offset 0x{second:x}", reader.Stats.Damage[0].ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void Garbage_inside_a_compressed_stream_never_crashes()
    {
        byte[] plain = File.ReadAllBytes(PerfFixtures.Path_("kvm-long.data"));
        var rng = new Random(5);
        for (int i = 0; i < 40; i++)
        {
            byte[] packed = PerfFileSurgery.CompressData(plain, i, 600);
            var compressed = PerfFileSurgery.Records(packed).Where(r => r.Type == 81).ToList();
            var victim = compressed[rng.Next(compressed.Count)];
            for (int k = 0; k < 4; k++)
            {
                packed[victim.Offset + 8 + rng.Next(victim.Size - 8)] ^= (byte)rng.Next(1, 256);
            }

            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            PerfDataFuzz.Fuzz(packed);
        }
    }

    [Fact(Timeout = 60_000)]
    public void Pipe_metadata_records_inside_compressed_data_are_an_error_not_a_crash()
    {
        var built = new PerfDataBuilder(false).Sample(10, 0, 1, 1, 2, 0).Raw(66, [64, 0, 0, 0, 0, 0, 0, 0]).Sample(20, 0, 1, 1, 2, 0).Build();
        byte[] packed = PerfFileSurgery.CompressData(built, 3, 30);
        using var file = PerfDataFile.Open(TraceInput.FromMemory(packed, "packed"));
        using var reader = file.CreateReader();
        var ex = Assert.Throws<TraceFormatException>(() =>
        {
            while (reader.MoveNext(out _))
            {
                TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            }
        });
        Assert.Contains("inside the compressed record at offset 0x", ex.Message, StringComparison.Ordinal);
    }
}
