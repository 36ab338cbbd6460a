using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

public sealed class TraceDatWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-writer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory(Timeout = 120_000)]
    [InlineData(6, "none")]
    [InlineData(7, "none")]
    [InlineData(7, "zstd")]
    [InlineData(7, "zlib")]
    [InlineData(7, "none", true)]
    [InlineData(6, "none", false, 4)]
    [InlineData(7, "zstd", true, 4)]
    public void Written_files_read_back_with_every_record_and_typed_event(int version, string compression, bool bigEndian = false, int longSize = 8)
    {
        string path = Path.Combine(_dir, $"kvm-v{version}-{compression}-{bigEndian}-{longSize}.dat");
        int written = KvmFixture.Write(path, new TraceDatWriterOptions(version, compression, BigEndian: bigEndian, KernelLongSize: longSize), faults: 2000);
        using var file = TraceDatFile.Open(path);
        Assert.Equal((version, bigEndian, longSize), (file.Version, file.IsBigEndian, file.KernelLongSize));
        Assert.Equal(compression, file.Compression);
        using var reader = file.CreateReader();
        var d = new KvmEventDecoder();
        int n = 0, faults = 0, slots = 0, conversions = 0;
        ulong last = 0;
        var ct = TestContext.Current.CancellationToken;
        while (reader.MoveNext(out var r))
        {
            ct.ThrowIfCancellationRequested();
            n++;
            Assert.True(r.Timestamp >= last);
            last = r.Timestamp;
            if (d.TryRead(r, out KvmPageFault pf))
            {
                faults++;
                Assert.Equal(r.Cpu, (int)pf.VcpuId);
                Assert.Equal(r.Cpu == 0 ? "CPU 0/KVM" : "CPU 1/KVM", r.Comm);
            }

            slots += d.TryRead(r, out QemuSetUserMemory m) && m.GuestMemfd == 27 ? 1 : 0;
            conversions += d.TryRead(r, out QemuConvertMemory c) && c.ToPrivate ? 1 : 0;
        }

        Assert.Equal(written, n);
        Assert.Equal(2000, faults);
        Assert.Equal((1, 1), (slots, conversions));
        Assert.Equal(0, reader.Stats.DamageCount);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(6, "none")]
    [InlineData(7, "none")]
    [InlineData(7, "zstd")]
    [InlineData(7, "zlib")]
    [InlineData(7, "none", true)]
    [InlineData(6, "none", false, 4)]
    public void Trace_cmd_report_decodes_what_the_writer_writes_exactly_as_FastRmp_does(int version, string compression, bool bigEndian = false, int longSize = 8)
    {
        string traceCmd = Samples.RequireTraceCmd();
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        if (!Samples.Run(traceCmd, "list", "-c").Contains(compression, StringComparison.Ordinal) && compression != "none")
        {
            Assert.Skip($"this trace-cmd has no {compression} support ('trace-cmd list -c'), so it cannot be the oracle for {compression} files");
        }

        string path = Path.Combine(_dir, $"oracle-v{version}-{compression}-{bigEndian}-{longSize}.dat");
        KvmFixture.Write(path, new TraceDatWriterOptions(version, compression, BigEndian: bigEndian, KernelLongSize: longSize), faults: 500, seed: version * 10 + compression.Length);
        using var file = TraceDatFile.Open(path);
        var mine = new List<string>();
        using (var reader = file.CreateReader())
        {
            while (reader.MoveNext(out var r))
            {
                mine.Add(RawReport.Key(r));
            }
        }

        var expected = RawReport.ExpectedKeys(Samples.Run(traceCmd, "report", "-t", "-R", path), file.Formats);
        Assert.Equal(mine.Count, expected.Count);
        Assert.Equal(expected.Order(StringComparer.Ordinal), mine.Order(StringComparer.Ordinal));
    }
}
