using System.Diagnostics;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Replay;
using FastRmp.Export.Perfetto;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Export.Tests.Perfetto;

public sealed class PerfettoTraceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-perfetto-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Export(string trace, Action<PerfettoTrace, ITraceReader>? run = null)
    {
        using var reader = TraceFile.OpenReader(trace);
        using var output = new MemoryStream();
        using (var perfetto = new PerfettoTrace(output, leaveOpen: true))
        {
            if (run is null)
            {
                while (reader.MoveNext(out var r))
                {
                    perfetto.WriteRecord(r);
                }
            }
            else
            {
                run(perfetto, reader);
            }

            perfetto.Complete();
        }

        return output.ToArray();
    }

    [Fact]
    public void Every_record_of_a_written_trace_is_one_instant_on_its_threads_track()
    {
        string path = Path.Combine(_dir, "snp.dat");
        var summary = SnpTraceFixture.Write(path, faults: 3000, vcpus: 4);
        var view = PerfettoView.Read(Export(path));

        Assert.Equal(summary.Records, view.Events.Count);
        Assert.All(view.Events, e => Assert.Equal(3UL, e.Type)); // TYPE_INSTANT
        Assert.Equal(summary.Faults, view.Events.Count(e => e.Name == "kvm_page_fault"));
        Assert.Equal(summary.SharedConversions, view.Events.Count(e => e.Name == "kvm_userspace_exit"));
        Assert.All(view.Events.Where(e => e.Name == "kvm_page_fault"), e => Assert.Equal("kvm", e.Category));

        // the fixture's vCPU threads are QemuPid + 1 + vcpu, named "CPU n/KVM", on CPU n
        for (int v = 0; v < 4; v++)
        {
            int tid = SnpTraceFixture.QemuPid + 1 + v;
            var track = Assert.Single(view.Tracks.Values, t => t.Tid == tid);
            Assert.Equal($"CPU {v}/KVM", track.ThreadName);
            var faults = view.Events.Where(e => e.Track == track.Uuid && e.Name == "kvm_page_fault").ToList();
            Assert.NotEmpty(faults);
            Assert.All(faults, e => Assert.Equal((ulong)v, e.Args["common_cpu"]));
            Assert.All(faults, e => Assert.Equal((ulong)v, e.Args["vcpu_id"]));
        }

        // timestamps are the trace's, in order per track
        foreach (var group in view.Events.GroupBy(e => e.Track))
        {
            var ts = group.Select(e => e.Timestamp).ToArray();
            Assert.Equal(ts.Order(), ts);
        }
    }

    [Fact]
    public void Field_values_match_what_the_reader_gives_field_by_field()
    {
        string path = Path.Combine(_dir, "fields.dat");
        SnpTraceFixture.Write(path, faults: 200, vcpus: 2);
        var view = PerfettoView.Read(Export(path));

        using var reader = TraceFile.OpenReader(path);
        int i = 0;
        while (reader.MoveNext(out var r))
        {
            var e = view.Events[i++];
            Assert.Equal(r.Timestamp, e.Timestamp);
            Assert.Equal(r.Format.Name, e.Name);
            Assert.Equal(r.Format.EventFields.Length + 1, e.Args.Count);
            foreach (var f in r.Format.EventFields)
            {
                object value = e.Args[f.Name];
                if (f.IsNumber)
                {
                    Assert.Equal(f.IsSigned ? (object)r.GetInt64(f) : r.GetUInt64(f), value);
                }
                else if (f.IsCharString)
                {
                    Assert.Equal(r.GetString(f).TrimEnd('\n'), value);
                }
            }
        }

        Assert.Equal(view.Events.Count, i);
    }

    [Theory]
    [InlineData("tracecmd-dat/vm-sched-kmem-v6.dat")]
    [InlineData("tracecmd-dat/vm-sched-kmem-v7-zstd.dat")]
    [InlineData("text-local/tracefs-trace-record-tgid.txt")]
    [InlineData("text-public/kvm_page_fault-new-format-seanjc-2022.txt")]
    [InlineData("perf/vm-perf-tracepoints-a.data")]
    [InlineData("perf/vm-perf-tracepoints-a.script.txt")]
    public void Samples_of_every_input_kind_give_one_event_per_record(string sample)
    {
        string path = Samples.Path_(sample);
        long records = 0;
        var perEvent = new Dictionary<string, int>();
        using (var reader = TraceFile.OpenReader(path))
        {
            while (reader.MoveNext(out var r))
            {
                records++;
                perEvent[r.Format.Name] = perEvent.GetValueOrDefault(r.Format.Name) + 1;
            }
        }

        var view = PerfettoView.Read(Export(path));
        Assert.True(records > 0);
        Assert.Equal(records, view.Events.Count);
        Assert.Equal(perEvent.OrderBy(p => p.Key), view.Events.GroupBy(e => e.Name).Select(g => new KeyValuePair<string, int>(g.Key, g.Count())).OrderBy(p => p.Key));
    }

    [Fact]
    public void Text_kvm_events_carry_their_tracepoint_fields()
    {
        // the sample's first kvm_page_fault: CPU 5/KVM, vcpu 5, address 0x113600002, error code 0x181 (as in the events command's test)
        var view = PerfettoView.Read(Export(Samples.Path_("text-public/kvm_page_fault-new-format-seanjc-2022.txt")));
        var first = view.Events.First(e => e.Name == "kvm_page_fault");
        Assert.Equal(86_581_928_000UL, first.Timestamp);
        Assert.Equal(5UL, first.Args["vcpu_id"]);
        Assert.Equal(0x113600002UL, first.Args["fault_address"]);
        Assert.Equal(0x181UL, first.Args["error_code"]);
        Assert.Equal("CPU 5/KVM", view.Tracks[first.Track].ThreadName);
    }

    [Fact]
    public void Replay_writes_the_models_faults_per_vcpu_and_counters_that_end_at_the_reports_values()
    {
        string path = Path.Combine(_dir, "replay.dat");
        const int vcpus = 3;
        var summary = SnpTraceFixture.Write(path, faults: 2000, vcpus: vcpus, hugeEvery: 20);
        IReadOnlyList<ReplayResult> results = [];
        var bytes = Export(path, (perfetto, reader) =>
        {
            using var replayer = new Replayer(perfetto.Tee(reader), new ReplayOptions(9), ["first-use"]);
            perfetto.Attach(replayer);
            replayer.Run();
            perfetto.Complete();
            results = replayer.Results("replay.dat");
        });
        var view = PerfettoView.Read(bytes);
        var result = Assert.Single(results);

        // the trace's own records are all there too
        Assert.Equal(summary.Records, view.Events.Count(e => e.Category != "fastrmp.model" && e.CounterValue is null));

        var group = Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith("model first-use", StringComparison.Ordinal) == true);
        var vcpuTracks = view.Tracks.Values.Where(t => t.Parent == group.Uuid && t.Name?.StartsWith("vCPU ", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(vcpus, vcpuTracks.Count);
        var faults = view.Events.Where(e => e.Name == "fault" && e.Category == "fastrmp.model").ToList();
        Assert.Equal(summary.Faults, faults.Count); // every traced fault, replayed once
        Assert.All(faults, f => Assert.Equal($"vCPU {f.Args["vcpu_id"]}", view.Tracks[f.Track].Name));
        Assert.Equal(result.Counters[CounterCatalog.MemoryFaultExits], faults.Count(f => (string)f.Args["outcome"] == "memory fault exit"));
        Assert.Equal(result.Counters[CounterCatalog.MemoryFaultExits], view.Events.Count(e => e.Name == "KVM_EXIT_MEMORY_FAULT"));
        Assert.Equal(result.Counters[CounterCatalog.RmpNpf], view.Events.Count(e => e.Name == "RMP fault"));

        long Last(string name)
        {
            var track = Assert.Single(view.Tracks.Values, t => t.Parent == group.Uuid && t.Name == name);
            Assert.True(track.IsCounter);
            return view.Events.Where(e => e.Track == track.Uuid).OrderBy(e => e.Timestamp).Last().CounterValue!.Value;
        }

        Assert.Equal(result.Counters[CounterCatalog.Rmp4KEntries], Last("private 4K pages"));
        Assert.Equal(result.Counters[CounterCatalog.Rmp2MEntries], Last("private 2M pages"));
        Assert.True(Last("private 2M pages") > 0, "the fixture maps some 2M private pages");
        Assert.Equal(result.Counters[CounterCatalog.Psmash], Last("PSMASH"));
        Assert.Equal(result.Counters[CounterCatalog.RmpNpf], Last("RMP faults"));
        Assert.Equal(result.Counters[CounterCatalog.Npt4K], Last("NPT 4K leaves"));
        Assert.Equal(result.Counters[CounterCatalog.Npt2M], Last("NPT 2M leaves"));
    }

    [Fact]
    public void Compare_gives_each_policy_its_tracks_and_keeps_the_replayers_recorder()
    {
        string path = Path.Combine(_dir, "compare.dat");
        var summary = SnpTraceFixture.Write(path, faults: 500, vcpus: 2);
        var recorder = new CountingRecorder();
        string[] policies = ["first-use", "every-get-pfn"];
        var bytes = Export(path, (perfetto, reader) =>
        {
            using var replayer = new Replayer(reader, new ReplayOptions(9), policies) { Recorder = recorder };
            perfetto.Attach(replayer);
            replayer.Run();
            perfetto.Complete();
        });
        var view = PerfettoView.Read(bytes);
        Assert.Equal(summary.Faults, recorder.Faults); // still told of the first model's faults
        foreach (string policy in policies)
        {
            var group = Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith($"model {policy} ", StringComparison.Ordinal) == true);
            var tracks = view.Tracks.Values.Where(t => t.Parent == group.Uuid).Select(t => t.Uuid).ToHashSet();
            Assert.Equal(summary.Faults, view.Events.Count(e => e.Name == "fault" && tracks.Contains(e.Track)));
        }
    }

    private static string Protoc()
    {
        string? protoc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "protoc")).FirstOrDefault(File.Exists);
        if (protoc is null)
        {
            Assert.Skip("protoc is not installed (Debian: apt-get install protobuf-compiler); the C# parse-back tests still check the file");
        }

        return protoc;
    }

    private static async Task<string> RunProtoc(string protoc, string pftrace, params string[] args)
    {
        var info = new ProcessStartInfo(protoc, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await using (var input = File.OpenRead(pftrace))
        {
            await input.CopyToAsync(process.StandardInput.BaseStream, TestContext.Current.CancellationToken);
        }

        process.StandardInput.Close();
        string text = await stdout;
        string errors = await stderr;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, errors);
        return text;
    }

    [Fact]
    public async Task Protoc_decodes_the_file_as_a_run_of_packets()
    {
        string protoc = Protoc();
        string path = Path.Combine(_dir, "protoc.dat");
        var summary = SnpTraceFixture.Write(path, faults: 300, vcpus: 2);
        string pftrace = Path.Combine(_dir, "out.pftrace");
        File.WriteAllBytes(pftrace, Export(path));
        string text = await RunProtoc(protoc, pftrace, "--decode_raw");
        var lines = text.Split('\n');
        int packets = lines.Count(l => l == "1 {");
        int events = lines.Count(l => l == "  11 {"); // TracePacket.track_event
        Assert.Equal(summary.Records, events);
        Assert.Equal(PerfettoView.Read(File.ReadAllBytes(pftrace)).Packets, packets);
    }

    /// <summary>
    /// With FASTRMP_PERFETTO_PROTOS naming a checkout of google/perfetto (its protos/ folder), protoc decodes a
    /// replay's file with Perfetto's own schema: every field must be one the schema knows, with its wire type (an
    /// unknown field or a wrong wire type is printed as a bare field number).
    /// </summary>
    [Fact]
    public async Task Perfettos_own_schema_knows_every_field_written()
    {
        string protoc = Protoc();
        string? protos = Environment.GetEnvironmentVariable("FASTRMP_PERFETTO_PROTOS");
        if (protos is null || !File.Exists(Path.Combine(protos, "protos/perfetto/trace/trace.proto")))
        {
            Assert.Skip("set FASTRMP_PERFETTO_PROTOS to a google/perfetto checkout (the folder holding protos/) to decode with Perfetto's schema");
        }

        string path = Path.Combine(_dir, "schema.dat");
        var summary = SnpTraceFixture.Write(path, faults: 300, vcpus: 2, hugeEvery: 10);
        string pftrace = Path.Combine(_dir, "schema.pftrace");
        File.WriteAllBytes(pftrace, Export(path, (perfetto, reader) =>
        {
            using var replayer = new Replayer(perfetto.Tee(reader), new ReplayOptions(9), ["first-use"]);
            perfetto.Attach(replayer);
            replayer.Run();
            perfetto.Complete();
        }));
        string text = await RunProtoc(protoc, pftrace, "--decode=perfetto.protos.Trace", "-I", protos, "protos/perfetto/trace/trace.proto");
        var lines = text.Split('\n');
        Assert.DoesNotContain(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s*[0-9]+[:{ ]"));
        Assert.Single(lines, l => l.Trim() == "name: \"fault\""); // interned once
        string[] outcomes = ["string_value: \"mapped\"", "string_value: \"not mapped\"", "string_value: \"memory fault exit\""];
        Assert.Equal(summary.Faults, lines.Count(l => outcomes.Contains(l.Trim())));
        Assert.Contains(lines, l => l.Trim() == "type: TYPE_COUNTER");
        Assert.Contains(lines, l => l.Trim() == "unit: UNIT_COUNT");
    }

    [Fact]
    public void Completing_after_the_replayer_is_disposed_still_writes_a_whole_file()
    {
        string path = Path.Combine(_dir, "late.dat");
        var summary = SnpTraceFixture.Write(path, faults: 100, vcpus: 2);
        var view = PerfettoView.Read(Export(path, (perfetto, reader) =>
        {
            using var replayer = new Replayer(perfetto.Tee(reader), new ReplayOptions(), ["first-use"]);
            perfetto.Attach(replayer);
            replayer.Run();
        }));
        Assert.Equal(summary.Faults, view.Events.Count(e => e.Name == "fault"));
    }

    [Fact]
    public void Output_is_written_as_it_goes_not_held_until_the_end()
    {
        string path = Path.Combine(_dir, "stream.dat");
        SnpTraceFixture.Write(path, faults: 20000, vcpus: 2);
        using var reader = TraceFile.OpenReader(path);
        using var sink = new CountingStream();
        using var perfetto = new PerfettoTrace(sink, leaveOpen: true);
        long maxBehind = 0;
        while (reader.MoveNext(out var r))
        {
            perfetto.WriteRecord(r);
            maxBehind = Math.Max(maxBehind, perfetto.Packets * 8 - sink.Written); // packets are ≥ 8 bytes: a lower bound of what is buffered
        }

        perfetto.Complete();
        Assert.True(sink.Written > 2L * PerfettoWriter.FlushBytes, $"{sink.Written} bytes");
        Assert.True(maxBehind <= PerfettoWriter.FlushBytes + (64 << 10), $"{maxBehind} bytes held back");
    }

    private sealed class CountingStream : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Written += count;

        public override void Write(ReadOnlySpan<byte> buffer) => Written += buffer.Length;
    }

    private sealed class CountingRecorder : IReplayRecorder
    {
        public long Faults { get; private set; }

        public void Fault(ulong timestamp, int cpu, int pid, uint vcpuId, ulong gpa, ulong errorCode) => Faults++;

        public void Mapped(ulong timestamp, int cpu, int pid, ulong gfn, ulong pfn, int level)
        {
        }

        public void MemoryFaultExit(ulong timestamp, int cpu, int pid)
        {
        }

        public void RmpFault(ulong timestamp, int cpu, int pid, ulong gpa, ulong pfn, int rmpLevel)
        {
        }

        public void Attributes(ulong timestamp, int cpu, int pid, ulong startGfn, ulong endGfn, bool isPrivate)
        {
        }

        public void Convert(ulong timestamp, int cpu, int pid, ulong gpa, ulong size, bool toPrivate)
        {
        }

        public void LaunchUpdate(ulong timestamp, int cpu, int pid, ulong gpa, ulong length)
        {
        }
    }
}
