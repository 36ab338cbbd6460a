using FastRmp.Export.Tests.Perfetto;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary><c>--perfetto FILE</c> on events, replay and compare (issue 17), end to end.</summary>
public sealed class PerfettoCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-cli-perfetto-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int JsonlLines(params string[] args)
    {
        var (exit, output, err) = CliRunner.Run(["events", .. args, "--format", "jsonl"]);
        Assert.True(exit == 0, err);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    [Theory]
    [InlineData("tracecmd-dat/vm-sched-kmem-v6.dat")]
    [InlineData("tracecmd-dat/vm-sched-kmem-v7-zstd.dat")]
    [InlineData("text-public/amd-host-tracecmd-report-kvmmmu-cai-fuqiang.txt")]
    [InlineData("perf/vm-perf-tracepoints-a.data")]
    public void Events_writes_one_track_event_per_record_the_jsonl_form_prints(string sample)
    {
        string path = Samples.Path_(sample);
        string output = Path.Combine(_dir, "events.pftrace");
        var (exit, stdout, err) = CliRunner.Run("events", path, "--perfetto", output);
        Assert.True(exit == 0, err);
        var view = PerfettoView.Read(File.ReadAllBytes(output));
        int expected = JsonlLines(path);
        Assert.Equal(expected, view.Events.Count);
        Assert.Contains($"{expected:N0} of {expected:N0} records", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Events_filter_applies_to_the_perfetto_file()
    {
        string path = Samples.Path_("tracecmd-dat/vm-sched-kmem-v6.dat");
        string output = Path.Combine(_dir, "sched.pftrace");
        var (exit, _, err) = CliRunner.Run("events", path, "--event", "sched_switch", "--perfetto", output);
        Assert.True(exit == 0, err);
        var view = PerfettoView.Read(File.ReadAllBytes(output));
        Assert.Equal(JsonlLines(path, "--event", "sched_switch"), view.Events.Count);
        Assert.All(view.Events, e => Assert.Equal("sched_switch", e.Name));
    }

    [Fact]
    public void Events_with_perfetto_and_a_format_is_a_usage_error()
    {
        var (exit, _, err) = CliRunner.Run("events", Samples.Path_("tracecmd-dat/vm-sched-kmem-v6.dat"), "--format", "jsonl", "--perfetto", Path.Combine(_dir, "x.pftrace"));
        Assert.Equal(2, exit);
        Assert.Contains("--format", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("events")]
    [InlineData("replay")]
    [InlineData("compare")]
    public void An_output_that_is_the_trace_itself_is_refused_and_the_trace_is_untouched(string command)
    {
        string trace = Path.Combine(_dir, "same.dat");
        SnpTraceFixture.Write(trace, faults: 50);
        byte[] before = File.ReadAllBytes(trace);
        var (exit, _, err) = CliRunner.Run(command, trace, "--perfetto", trace);
        Assert.Equal(1, exit);
        Assert.Contains("that is the trace being read", err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(trace));
    }

    [Fact]
    public void An_output_in_a_missing_folder_is_one_line_input_error()
    {
        string trace = Path.Combine(_dir, "t.dat");
        SnpTraceFixture.Write(trace, faults: 20);
        var (exit, _, err) = CliRunner.Run("events", trace, "--perfetto", Path.Combine(_dir, "no", "such", "x.pftrace"));
        Assert.Equal(1, exit);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fastrmp: --perfetto: cannot write", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_no_trace_is_one_line_input_error()
    {
        string junk = Path.Combine(_dir, "junk.dat");
        File.WriteAllBytes(junk, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37))]);
        var (exit, _, err) = CliRunner.Run("events", junk, "--perfetto", Path.Combine(_dir, "junk.pftrace"));
        Assert.Equal(1, exit);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Replay_writes_the_trace_and_the_models_faults()
    {
        string trace = Path.Combine(_dir, "snp.dat");
        var summary = SnpTraceFixture.Write(trace, faults: 1500, vcpus: 2);
        string output = Path.Combine(_dir, "replay.pftrace");
        var (exit, stdout, err) = CliRunner.Run("replay", trace, "--perfetto", output);
        Assert.True(exit == 0, err);
        Assert.Contains($"{summary.Records:N0} records and the run of 1 model(s)", stdout, StringComparison.Ordinal);
        var view = PerfettoView.Read(File.ReadAllBytes(output));
        Assert.Equal(summary.Records, view.Events.Count(e => e.Category is not null && e.Category != "fastrmp.model"));
        Assert.Equal(summary.Faults, view.Events.Count(e => e.Name == "fault" && e.Category == "fastrmp.model"));
        Assert.Equal(summary.SharedConversions, view.Events.Count(e => e.Name == "KVM_EXIT_MEMORY_FAULT"));
        Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith("model first-use", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void Compare_writes_one_model_group_per_policy()
    {
        string trace = Path.Combine(_dir, "cmp.dat");
        SnpTraceFixture.Write(trace, faults: 300, vcpus: 2);
        string output = Path.Combine(_dir, "cmp.pftrace");
        var (exit, _, err) = CliRunner.Run("compare", trace, "--policies", "first-use,every-get-pfn", "--perfetto", output);
        Assert.True(exit == 0, err);
        var view = PerfettoView.Read(File.ReadAllBytes(output));
        Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith("model first-use ", StringComparison.Ordinal) == true);
        Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith("model every-get-pfn ", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void A_tdx_replay_writes_the_td_models_faults()
    {
        string trace = Path.Combine(_dir, "tdx.txt");
        File.WriteAllText(trace, TdxCommandTests.TdxTrace);
        int traced = TdxCommandTests.TdxTrace.Split('\n').Count(l => l.Contains(" kvm_page_fault: ", StringComparison.Ordinal));
        string output = Path.Combine(_dir, "tdx.pftrace");
        string json = Path.Combine(_dir, "tdx.json");
        var (exit, _, err) = CliRunner.Run("replay", trace, "--vm-type", "tdx", "--host-size", "4G", "--perfetto", output, "--json", json);
        Assert.True(exit == 0, err);
        var view = PerfettoView.Read(File.ReadAllBytes(output));
        var group = Assert.Single(view.Tracks.Values, t => t.Name?.StartsWith("model tdx", StringComparison.Ordinal) == true);
        Assert.True(traced > 0);
        Assert.Equal(traced, view.Events.Count(e => e.Name == "fault" && view.Tracks[e.Track].Parent == group.Uuid));
        Assert.Equal(traced, view.Events.Count(e => e.Name == "kvm_page_fault"));

        // a TD has no RMP: its counter tracks are the TDX module's, ending at the report's values
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var counters = report.RootElement.GetProperty("runs")[0].GetProperty("counters");
        foreach (var (track, counter) in new[] { ("PAGE.AUG 4K", "tdx_page_aug_4k"), ("PAGE.AUG 2M", "tdx_page_aug_2m"), ("DEMOTE", "tdx_demote"), ("REMOVE", "tdx_remove"), ("NPT 4K leaves", "npt_4k") })
        {
            var t = Assert.Single(view.Tracks.Values, x => x.Parent == group.Uuid && x.Name == track);
            Assert.Equal(counters.GetProperty(counter).GetInt64(), view.Events.Where(e => e.Track == t.Uuid).OrderBy(e => e.Timestamp).Last().CounterValue);
        }

        Assert.DoesNotContain(view.Tracks.Values, x => x.Name == "private 4K pages");
    }

    [Fact]
    public void Several_traces_with_one_perfetto_file_is_a_usage_error()
    {
        string a = Path.Combine(_dir, "a.dat"), b = Path.Combine(_dir, "b.dat");
        SnpTraceFixture.Write(a, faults: 10);
        SnpTraceFixture.Write(b, faults: 10);
        var (exit, _, err) = CliRunner.Run("replay", a, b, "--perfetto", Path.Combine(_dir, "x.pftrace"));
        Assert.Equal(2, exit);
        Assert.Contains("--perfetto", err, StringComparison.Ordinal);
    }
}
