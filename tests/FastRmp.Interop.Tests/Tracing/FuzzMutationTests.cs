using System.Diagnostics;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

public class FuzzMutationTests
{
    private static readonly ulong[] s_interesting = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1000, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000];

    [Fact(Timeout = 120_000)]
    public void Ten_thousand_mutations_of_the_samples_never_crash_hang_or_read_out_of_bounds()
    {
        string kvm = Path.Combine(Path.GetTempPath(), $"fastrmp-fuzz-kvm-{Environment.ProcessId}.dat");
        KvmFixture.Write(kvm, new FastRmp.Interop.Tracing.Writing.TraceDatWriterOptions(7, "zstd"), faults: 60);
        byte[] kvmBytes = File.ReadAllBytes(kvm);
        File.Delete(kvm);
        var dat = new[]
        {
            File.ReadAllBytes(Samples.Path_("tracecmd-dat/vm-sched-kmem-v7-zstd.dat")),
            File.ReadAllBytes(Samples.Path_("tracecmd-dat/vm-sched-kmem-v6.dat"))[..(40 * 1024)],
            File.ReadAllBytes(Samples.Path_("tracecmd-dat/vm-sched-kmem-v7-nocompress.dat"))[..(48 * 1024)],
        };
        var text = new[]
        {
            File.ReadAllBytes(Samples.Path_("text-local/tracefs-trace-record-tgid.txt"))[..4096],
            File.ReadAllBytes(Samples.Path_("perf/perf-script-F-ns.txt"))[..4096],
            File.ReadAllBytes(Samples.Path_("text-public/intel-host-tracefs-trace-kvm-mmu-linuxmaxxing.txt")),
            File.ReadAllBytes(Samples.Path_("text-local/report-t-R-raw-nsec.txt"))[..4096],
        };
        byte[] format = File.ReadAllBytes(Samples.Path_("tracefs-formats-linux-6.18/kvm_kvmmmu_formats.txt"))[..4000];
        var rng = new Random(20261124);
        var ct = TestContext.Current.CancellationToken;
        var sw = Stopwatch.StartNew();
        int runs = 0;
        for (int i = 0; i < 10_000; i++)
        {
            ct.ThrowIfCancellationRequested();
            // The zstd sample carries 167 formats (parsed on every open), so it gets a smaller share.
            int which = rng.Next(20);
            if (which < 12)
            {
                TraceDatFuzz.Fuzz(Mutate(which == 0 ? dat[0] : which < 5 ? kvmBytes : dat[1 + (which % 2)], rng));
            }
            else if (which < 19)
            {
                TextTraceFuzz.Fuzz(Mutate(text[which % text.Length], rng));
            }
            else
            {
                FormatFileFuzz.Fuzz(Mutate(format, rng));
            }

            runs++;
        }

        Assert.Equal(10_000, runs);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(100), $"took {sw.Elapsed}");
    }

    [Fact(Timeout = 120_000)]
    public void Mutations_of_compressed_piped_traces_are_input_errors_or_records_never_crashes()
    {
        var ct = TestContext.Current.CancellationToken;
        string kvm = Path.Combine(Path.GetTempPath(), $"fastrmp-fuzz-stream-{Environment.ProcessId}.dat");
        KvmFixture.Write(kvm, new FastRmp.Interop.Tracing.Writing.TraceDatWriterOptions(7, "none"), faults: 40);
        byte[] dat = File.ReadAllBytes(kvm);
        File.Delete(kvm);
        byte[] text = File.ReadAllBytes(Samples.Path_("text-public/intel-host-tracefs-trace-kvm-mmu-linuxmaxxing.txt"));
        var seeds = new List<byte[]> { dat, text };
        foreach (var plain in new[] { dat, text })
        {
            var gz = new MemoryStream();
            using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(plain);
            }

            seeds.Add(gz.ToArray());
            var zst = new MemoryStream();
            using (var z = new ZstdSharp.CompressionStream(zst, 3, leaveOpen: true))
            {
                z.Write(plain);
            }

            seeds.Add(zst.ToArray());
        }

        var rng = new Random(20261204);
        for (int i = 0; i < 1500; i++)
        {
            ct.ThrowIfCancellationRequested();
            StreamTraceFuzz.Fuzz(Mutate(seeds[rng.Next(seeds.Count)], rng));
        }

        foreach (var seed in seeds)
        {
            StreamTraceFuzz.Fuzz(seed);
        }
    }

    [Fact(Timeout = 120_000)]
    public void Mutations_of_perf_data_file_pipe_and_zstd_never_crash_hang_or_read_out_of_bounds()
    {
        var ct = TestContext.Current.CancellationToken;
        string dir = Perf.PerfFixtures.Dir;
        var seeds = new[] { "kvm-long.data", "kvm-long-pipe.data", "kvm-long-zstd.data" }.Select(n => File.ReadAllBytes(Path.Combine(dir, n))).ToList();
        // Mutations in the records matter most: a seed cut after the tracing data keeps each run short in the pipe.
        seeds.Add(seeds[1][..(seeds[1].Length - 2000)]);
        // Small built files (both byte orders, lost/throttle/fork records) make each run cheap and reach every record kind.
        for (int k = 0; k < 4; k++)
        {
            var b = new Perf.PerfDataBuilder(bigEndian: k % 2 == 1) { WithOtherAttr = k > 1 }
                .Comm(0, 100, 100, "qemu").Sample(10, 0, 100, 100, 2, 0).Fork(12, 100, 100, 101, 100).Sample(30, 1, 100, 101, 2, -14)
                .Round().Lost(3, 31).Throttle(true, 32).Sample(20, 0, 100, 100, 5, 0).Round();
            seeds.Add(k < 2 ? b.Build() : b.BuildPipe());
            seeds.Add(k < 2 ? b.Build() : b.BuildPipe());
        }
        var rng = new Random(20261205);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 3000; i++)
        {
            ct.ThrowIfCancellationRequested();
            PerfDataFuzz.Fuzz(Mutate(seeds[rng.Next(seeds.Count)], rng));
        }

        foreach (var seed in seeds)
        {
            PerfDataFuzz.Fuzz(seed);
            StreamTraceFuzz.Fuzz(seed);
        }

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(100), $"took {sw.Elapsed}");
    }

    [Fact]
    public void Fuzz_targets_accept_the_unmutated_samples_and_empty_input()
    {
        PerfDataFuzz.Fuzz([]);
        TraceDatFuzz.Fuzz(File.ReadAllBytes(Samples.Path_("tracecmd-dat/vm-trace_marker-print-events-v7.dat")));
        TraceDatFuzz.Fuzz([]);
        TextTraceFuzz.Fuzz([]);
        StreamTraceFuzz.Fuzz([]);
        FormatFileFuzz.Fuzz([]);
        var ex = Assert.Throws<TraceFormatException>(() => TraceDatFile.Open(TraceInput.FromMemory(new byte[] { 0x17, 0x08 })));
        Assert.Contains("offset 0x0", ex.Message, StringComparison.Ordinal);
    }

    internal static byte[] Mutate(byte[] source, Random rng)
    {
        var b = (byte[])source.Clone();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Length > 0; e++)
        {
            int at = rng.Next(b.Length);
            switch (rng.Next(6))
            {
                case 0:
                    b[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    b[at] = (byte)rng.Next(256);
                    break;
                case 2:
                    ulong v = s_interesting[rng.Next(s_interesting.Length)];
                    for (int k = 0; k < 8 && at + k < b.Length; k++)
                    {
                        b[at + k] = (byte)(v >> (8 * k));
                    }

                    break;
                case 3:
                    b = b[..at];
                    break;
                case 4:
                    int len = Math.Min(rng.Next(64), b.Length - at);
                    b = [.. b[..at], .. b[(at + len)..]];
                    break;
                default:
                    int from = rng.Next(b.Length);
                    int n = Math.Min(rng.Next(32), Math.Min(b.Length - from, b.Length - at));
                    Array.Copy(b, from, b, at, n);
                    break;
            }
        }

        return b;
    }
}
