using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// Pipes and compressed files: a trace read forward only (text streamed, trace.dat spooled to a temporary file) or
/// decompressed gives the same records as the plain file read by path; bad input is one <see cref="TraceFormatException"/>.
/// </summary>
public sealed class StreamInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-stream-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 60_000)]
    public void A_trace_dat_through_a_pipe_reads_like_the_file()
    {
        var ct = TestContext.Current.CancellationToken;
        string dat = WriteDat();
        var expected = Keys(ct, TraceFile.OpenReader(dat));
        var piped = Keys(ct, TraceFile.OpenReader(new PipeLike(File.ReadAllBytes(dat)), "<pipe>"));
        Assert.True(expected.Count > 1000, $"only {expected.Count} records");
        Assert.Equal(expected, piped);
    }

    [Fact(Timeout = 60_000)]
    public void Text_through_a_pipe_reads_like_the_file()
    {
        var ct = TestContext.Current.CancellationToken;
        string txt = WriteText();
        var expected = Keys(ct, TraceFile.OpenReader(txt));
        Assert.Equal(TextLines, expected.Count);
        Assert.Equal(expected, Keys(ct, TraceFile.OpenReader(new PipeLike(File.ReadAllBytes(txt)), "<pipe>")));
    }

    public static TheoryData<string, string> Compressions() => new()
    {
        { "gzip", "dat" }, { "gzip", "txt" }, { "zstd", "dat" }, { "zstd", "txt" }, { "xz", "dat" }, { "xz", "txt" },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Compressions))]
    public void A_compressed_file_reads_like_the_plain_one_by_its_magic_not_its_name(string compression, string content)
    {
        var ct = TestContext.Current.CancellationToken;
        string plain = content == "dat" ? WriteDat() : WriteText();
        var expected = Keys(ct, TraceFile.OpenReader(plain));
        byte[] packed = Compress(compression, File.ReadAllBytes(plain));
        string named = Path.Combine(_dir, "trace.bin");
        File.WriteAllBytes(named, packed);
        Assert.Equal(expected, Keys(ct, TraceFile.OpenReader(named)));
        using (var reader = TraceFile.OpenReader(named))
        {
            Assert.Equal(compression + " (whole file)", reader.Info.Compression);
        }

        Assert.Equal(expected, Keys(ct, TraceFile.OpenReader(new PipeLike(packed), "<pipe>")));
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Compressions))]
    public void Corrupt_compressed_input_is_one_input_error_naming_it(string compression, string content)
    {
        var ct = TestContext.Current.CancellationToken;
        string plain = content == "dat" ? WriteDat() : WriteText();
        byte[] packed = Compress(compression, File.ReadAllBytes(plain));
        for (int i = 64; i < packed.Length - 16; i += 97)
        {
            packed[i] ^= 0x5a;
        }

        var ex = Assert.Throws<TraceFormatException>(() => Keys(ct, TraceFile.OpenReader(new PipeLike(packed), "<pipe>")));
        Assert.StartsWith("<pipe>: ", ex.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("gzip")]
    [InlineData("zstd")]
    [InlineData("xz")]
    public void Truncated_compressed_text_is_an_input_error_not_a_shorter_trace(string compression)
    {
        var ct = TestContext.Current.CancellationToken;
        byte[] packed = Compress(compression, File.ReadAllBytes(WriteText()));
        byte[] cut = packed[..(packed.Length * 2 / 3)];
        var ex = Assert.Throws<TraceFormatException>(() => Keys(ct, TraceFile.OpenReader(new PipeLike(cut), "<pipe>")));
        Assert.StartsWith("<pipe>: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public void A_small_gzip_that_inflates_to_a_huge_line_is_read_in_bounded_memory()
    {
        var ct = TestContext.Current.CancellationToken;

        // a few hundred KB of gzip: an event line, 160 MiB without a newline (one "line"), then another event line
        var output = new MemoryStream();
        const int Chunk = 1 << 20;
        using (var gz = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gz.Write("# tracer: nop\n#\n     CPU 0/KVM-7001    [000] ..... 1000.000000000: kvm_entry: vcpu 0, rip 0xffffffff81000000\n"u8);
            var junk = new byte[Chunk];
            Array.Fill(junk, (byte)'a');
            for (int i = 0; i < 160; i++)
            {
                gz.Write(junk);
            }

            gz.Write("\n     CPU 0/KVM-7001    [000] ..... 1000.000000001: kvm_entry: vcpu 0, rip 0xffffffff81000000\n"u8);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var keys = Keys(ct, TraceFile.OpenReader(new PipeLike(output.ToArray()), "<pipe>"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2, keys.Count);
        Assert.True(allocated < 32L << 20, $"{allocated:N0} bytes allocated to read 160 MiB of decompressed text");
    }

    [Fact(Timeout = 60_000)]
    public void Empty_input_says_so()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        var ex = Assert.Throws<TraceFormatException>(() => TraceFile.OpenReader(new PipeLike([]), "<stdin>"));
        Assert.Equal("<stdin>: empty input (no bytes)", ex.Message);
    }

    [Fact(Timeout = 60_000)]
    public void Compressed_twice_is_refused()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        byte[] twice = Compress("gzip", Compress("gzip", File.ReadAllBytes(WriteText())));
        var ex = Assert.Throws<TraceFormatException>(() => TraceFile.OpenReader(new PipeLike(twice), "<pipe>"));
        Assert.Contains("compressed twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public void The_spool_file_is_gone_from_its_folder_while_the_trace_is_read()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        string spoolDir = Path.Combine(_dir, "spool");
        Directory.CreateDirectory(spoolDir);
        string dat = WriteDat();
        using (var input = TraceSpool.Spool(new PipeLike(File.ReadAllBytes(dat)), "<pipe>", spoolDir))
        {
            Assert.Empty(Directory.GetFileSystemEntries(spoolDir));
            Assert.Equal(new FileInfo(dat).Length, input.Length);
            using var file = TraceDatFile.Open(input);
            using var reader = file.CreateReader();
            Assert.True(reader.MoveNext(out _));
        }

        Assert.Empty(Directory.GetFileSystemEntries(spoolDir));
    }

    [Fact(Timeout = 60_000)]
    public void A_spool_that_cannot_be_written_says_where_and_what_to_do()
    {
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        string missing = Path.Combine(_dir, "no-such-folder");
        var ex = Assert.Throws<TraceFormatException>(() => TraceSpool.Spool(new PipeLike(File.ReadAllBytes(WriteDat())), "<stdin>", missing));
        Assert.StartsWith("<stdin>: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
        Assert.Contains("TMPDIR", ex.Message, StringComparison.Ordinal);
    }

    private const int TextLines = 400;


    private string WriteDat()
    {
        string path = Path.Combine(_dir, "snp.dat");
        if (!File.Exists(path))
        {
            SnpTraceFixture.Write(path, faults: 800);
        }

        return path;
    }

    /// <summary>tracefs text (traces.md 1.1): "comm-pid [cpu] flags ts: event: payload".</summary>
    private string WriteText()
    {
        string path = Path.Combine(_dir, "trace.txt");
        if (!File.Exists(path))
        {
            var sb = new StringBuilder("# tracer: nop\n#\n");
            for (int i = 0; i < TextLines; i++)
            {
                int cpu = i % 4;
                sb.Append(CultureInfo.InvariantCulture, $"     CPU {cpu}/KVM-{7001 + cpu}    [{cpu:000}] ..... {1000 + i}.{i * 1000 + 7:000000000}: ");
                sb.Append(i % 2 == 0
                    ? FormattableString.Invariant($"kvm_exit: vcpu {cpu} reason EXIT_NPF rip 0xffffffff8100{i:x4} info1 0x500000004 info2 0x{(ulong)i << 12:x} intr_info 0x00000000 error_code 0x00000000\n")
                    : FormattableString.Invariant($"kvm_entry: vcpu {cpu}, rip 0xffffffff8100{i:x4}\n"));
            }

            File.WriteAllText(path, sb.ToString());
        }

        return path;
    }

    #pragma warning disable CA1068 // the token first keeps "Keys(ct, TraceFile.OpenReader(...))" readable
    private static List<string> Keys(CancellationToken ct, ITraceReader reader)
#pragma warning restore CA1068
    {
        using (reader)
        {
            var keys = new List<string>();
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                keys.Add($"{r.Timestamp} {r.Cpu} {r.Pid} {r.Format.Name}");
            }

            return keys;
        }
    }

    private static byte[] Compress(string compression, byte[] data)
    {
        var output = new MemoryStream();
        switch (compression)
        {
            case "gzip":
                using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
                {
                    gz.Write(data);
                }

                break;
            case "zstd":
                using (var z = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
                {
                    z.Write(data);
                }

                break;
            default:
                return ExternalXz(data);
        }

        return output.ToArray();
    }

    /// <summary>xz from the xz tool (no managed xz encoder is at hand); the test skips without it.</summary>
    private static byte[] ExternalXz(byte[] data)
    {
        string? xz = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "xz")).FirstOrDefault(File.Exists);
        if (xz is null)
        {
            Assert.Skip("xz is not installed (apt-get install xz-utils)");
        }

        var info = new ProcessStartInfo(xz, "-c -1") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(info)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(data);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output.ToArray();
    }

    /// <summary>A forward-only stream like a pipe: no seeking, no length, short reads.</summary>
    private sealed class PipeLike(byte[] data) : Stream
    {
        private int _pos;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException("Stream does not support seeking.");

        public override long Position
        {
            get => throw new NotSupportedException("Stream does not support seeking.");
            set => throw new NotSupportedException("Stream does not support seeking.");
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, 4093), data.Length - _pos);
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("Stream does not support seeking.");

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
