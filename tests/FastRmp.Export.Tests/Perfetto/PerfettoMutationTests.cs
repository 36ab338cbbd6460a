using FastRmp.Export.Perfetto;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Export.Tests.Perfetto;

/// <summary>
/// Damaged inputs through the Perfetto writer: whatever records a reader still returns from a mutated trace (odd field
/// values, huge or empty strings, strange comms) each become one well-formed event. Seeded (FASTRMP_FUZZ_SEED repeats
/// one run); every failure names the seed and the input.
/// </summary>
public class PerfettoMutationTests
{
    private static int RunSeed() => Environment.GetEnvironmentVariable("FASTRMP_FUZZ_SEED") is { Length: > 0 } s
        ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)
        : (int)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() % int.MaxValue);

    [Fact(Timeout = 120_000)]
    public async Task Mutated_traces_give_one_well_formed_event_per_record_read()
    {
        await Task.Yield();
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-perfetto-mut-{Environment.ProcessId}.dat");
        SnpTraceFixture.Write(path, faults: 40, vcpus: 2);
        byte[][] inputs =
        [
            File.ReadAllBytes(path),
            File.ReadAllBytes(Samples.Path_("text-public/kvm_page_fault-new-format-seanjc-2022.txt")),
            File.ReadAllBytes(Samples.Path_("perf/vm-perf-tracepoints-a.data")),
        ];
        File.Delete(path);
        int seed = RunSeed();
        var rng = new Random(seed);
        for (int i = 0; i < 300; i++)
        {
            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            byte[] input = (byte[])inputs[i % inputs.Length].Clone();
            int edits = 1 + rng.Next(16);
            for (int e = 0; e < edits; e++)
            {
                // past the first 4 KiB most edits land in records, not in the headers that reject the file at once
                int at = input.Length > 8192 && rng.Next(4) != 0 ? 4096 + rng.Next(input.Length - 4096) : rng.Next(input.Length);
                input[at] = rng.Next(3) switch { 0 => (byte)rng.Next(256), 1 => 0xff, _ => 0 };
            }

            try
            {
                Check(input, i);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"seed {seed} (FASTRMP_FUZZ_SEED={seed}), input {i}: {ex.GetType().Name}: {ex.Message}", ex);
            }
        }
    }

    private static void Check(byte[] input, int index)
    {
        using var output = new MemoryStream();
        long read = 0;
        using (var perfetto = new PerfettoTrace(output, leaveOpen: true))
        {
            try
            {
                using var reader = TraceFile.OpenReader(new MemoryStream(input), $"mutation-{index}");
                while (reader.MoveNext(out var r))
                {
                    read++;
                    perfetto.WriteRecord(r);
                }
            }
            catch (TraceFormatException)
            {
                // the reader's clear error; what was written before it must still be a whole file
            }

            perfetto.Complete();
        }

        var view = PerfettoView.Read(output.ToArray());
        Assert.Equal(read, view.Events.Count);
    }
}
