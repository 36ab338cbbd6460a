using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>perf.data read natively equals <c>perf script</c> on the same file, field by field.</summary>
public class PerfDataOracleTests
{
    [Theory]
    [InlineData("kvm-long.data")]
    [InlineData("kvm-long-pipe.data")]
    [InlineData("kvm-long-zstd.data")]
    [InlineData("kvm-long-pipe-zstd.data")]
    public void Committed_kvm_fixture_equals_perf_script_field_by_field(string name)
    {
        string[] expected = File.ReadAllLines(PerfFixtures.Path_(Path.ChangeExtension(name, ".perf-fields.jsonl")));
        Assert.Equal(134, PerfFixtures.CompareWithOracle(PerfFixtures.Path_(name), expected));
    }

    [Theory]
    [InlineData("kvm-long.data")]
    [InlineData("kvm-long-pipe.data")]
    [InlineData("kvm-long-zstd.data")]
    [InlineData("kvm-long-pipe-zstd.data")]
    public void Committed_kvm_fixture_equals_perf_script_run_now(string name)
    {
        string path = PerfFixtures.Path_(name);
        PerfFixtures.CompareWithOracle(path, PerfFixtures.RunOracle(path));
    }

    [Fact]
    public void Shared_sched_kmem_sample_recorded_with_a_equals_perf_script()
    {
        string path = Samples.Path_("perf/vm-perf-tracepoints-a.data");
        Assert.Equal(120, PerfFixtures.CompareWithOracle(path, PerfFixtures.RunOracle(path)));
    }

    [Fact]
    public void Shared_sample_matches_the_stored_perf_script_ns_text_line_by_line()
    {
        // perf-script-F-ns.txt: the first 60 lines of perf script -F comm,pid,tid,cpu,time,event,trace --ns, kept with the sample.
        string[] lines = File.ReadAllLines(Samples.Path_("perf/perf-script-F-ns.txt"));
        using var reader = TraceFile.OpenReader(Samples.Path_("perf/vm-perf-tracepoints-a.data"));
        int i = 0;
        while (i < lines.Length && reader.MoveNext(out var r))
        {
            string expected = lines[i++];
            string head = $"{r.Comm,16} {r.Tgid,5}/{r.Pid,-5} [{r.Cpu:D3}] {r.Timestamp / 1_000_000_000,5}.{r.Timestamp % 1_000_000_000:D9}:";
            Assert.StartsWith(head, expected, StringComparison.Ordinal);
            Assert.Contains($" {r.Format.FullName}: ", expected, StringComparison.Ordinal);
        }

        Assert.Equal(lines.Length, i);
    }

    [Fact]
    public void Info_names_perf_data_its_mode_compression_cpus_and_clock()
    {
        using (var file = TraceFile.OpenReader(PerfFixtures.Path_("kvm-long-zstd.data")))
        {
            Assert.Equal(TraceFileKind.PerfData, file.Info.Kind);
            Assert.Equal("file", file.Info.Version);
            Assert.Equal("zstd", file.Info.Compression);
            Assert.Equal("perf", file.Info.Clock);
            Assert.True(file.Info.CpuCount > 0);
            Assert.NotNull(file.Formats.ByName("kvm:kvm_exit"));
        }

        using var pipe = TraceFile.OpenReader(PerfFixtures.Path_("kvm-long-pipe.data"));
        Assert.Equal("pipe", pipe.Info.Version);
        Assert.NotNull(pipe.Formats.ByName("kvmmmu:kvm_mmu_paging_element"));
        Assert.Equal(TraceFileKind.PerfData, TraceFile.Detect(PerfFixtures.Path_("kvm-long.data")));
    }

    [Fact]
    public void Pipe_mode_read_from_a_pipe_equals_the_file()
    {
        byte[] bytes = File.ReadAllBytes(PerfFixtures.Path_("kvm-long-pipe.data"));
        using var reader = TraceFile.OpenReader(new NonSeekable(bytes), "pipe");
        var expected = File.ReadAllLines(PerfFixtures.Path_("kvm-long-pipe.perf-fields.jsonl"));
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            PerfFixtures.Compare(r, expected[i], $"piped record {i}");
            i++;
        }

        Assert.Equal(expected.Length, i);
    }

    [Fact]
    public void File_mode_read_from_a_pipe_is_spooled_and_equals_the_file()
    {
        byte[] bytes = File.ReadAllBytes(PerfFixtures.Path_("kvm-long.data"));
        using var reader = TraceFile.OpenReader(new NonSeekable(bytes), "pipe");
        var expected = File.ReadAllLines(PerfFixtures.Path_("kvm-long.perf-fields.jsonl"));
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            PerfFixtures.Compare(r, expected[i], $"piped record {i}");
            i++;
        }

        Assert.Equal(expected.Length, i);
    }

    [Fact]
    public void Metadata_has_attrs_with_ids_features_and_host_strings()
    {
        using var file = PerfDataFile.Open(PerfFixtures.Path_("kvm-long.data"));
        Assert.False(file.IsPipe);
        Assert.True(file.Attrs.Count > 100);
        Assert.All(file.Attrs, a => Assert.True(a.IsTracepoint && a.SampleIdAll && !a.Ids.IsEmpty));
        Assert.All(file.Attrs, a => Assert.True(a.SampleType.HasFlag(PerfSampleFormat.Raw) && a.SampleType.HasFlag(PerfSampleFormat.Time)));
        Assert.Contains(PerfDataFile.TracingDataFeature, file.Features);
        Assert.StartsWith("6.", file.OsRelease, StringComparison.Ordinal);
        Assert.Equal("x86_64", file.Arch);
        Assert.Empty(file.FormatErrors);
        var exit = file.Formats.ByName("kvm:kvm_exit")!;
        Assert.Contains(file.Attrs, a => a.Config == (ulong)exit.Id);
    }

    /// <summary>A forward-only stream, as a pipe is.</summary>
    private sealed class NonSeekable(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 4093));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
