using System.Text.Json;

namespace FastRmp.Cli.Tests;

/// <summary><c>info</c>, <c>events</c> and <c>replay</c> read perf.data like trace.dat (the committed KVM fixtures).</summary>
public class PerfDataCommandTests
{
    private static string Fixture(string name) =>
        Path.Combine(Repository.Root(), "tests", "FastRmp.Interop.Tests", "Tracing", "Perf", "fixtures", name);

    [Theory]
    [InlineData("kvm-long.data", "file", "none")]
    [InlineData("kvm-long-pipe.data", "pipe", "none")]
    [InlineData("kvm-long-zstd.data", "file", "zstd")]
    public void Info_on_perf_data_prints_mode_compression_records_and_kvm_event_counts(string name, string mode, string compression)
    {
        var (exit, output, err) = CliRunner.Run("info", Fixture(name));
        Assert.True(exit == 0, err);
        Assert.Contains($"format:      perf.data, version {mode}", output, StringComparison.Ordinal);
        Assert.Contains($"compression: {compression}", output, StringComparison.Ordinal);
        Assert.Contains("clock:       perf", output, StringComparison.Ordinal);
        Assert.Contains("records:     134", output, StringComparison.Ordinal);
        Assert.Contains("3  kvm:kvm_pio", output, StringComparison.Ordinal);
        Assert.Contains("4  kvm:kvm_userspace_exit", output, StringComparison.Ordinal);
        Assert.Contains("damaged:     0", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Events_on_perf_data_prints_perfs_times_threads_and_fields()
    {
        // perf script -F comm,tid,cpu,time,event,trace --ns on the same file (committed next to it).
        string[] perf = File.ReadAllLines(Fixture("kvm-long.perf-script.txt"));
        var (exit, output, err) = CliRunner.Run("events", Fixture("kvm-long.data"));
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(perf.Length, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            var p = perf[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string comm = p[0], tid = p[1], cpu = p[2], time = p[3].TrimEnd(':'), evt = p[4].TrimEnd(':');
            Assert.StartsWith($"{time} {cpu} {comm}-{tid} {evt}:", lines[i], StringComparison.Ordinal);
        }

        Assert.Contains("kvm:kvm_pio: rw=1 port=16 size=1 count=1 val=3", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Events_jsonl_on_pipe_mode_perf_data_has_typed_fields()
    {
        var (exit, output, err) = CliRunner.Run("events", Fixture("kvm-long-pipe.data"), "--format", "jsonl", "--event", "kvm:kvm_userspace_exit");
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        using var doc = JsonDocument.Parse(lines[0]);
        Assert.Equal("tiny-vm", doc.RootElement.GetProperty("comm").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("fields").GetProperty("reason").GetInt32());
    }

    [Fact]
    public void Replay_reads_perf_data_through_the_same_path()
    {
        var (exit, output, err) = CliRunner.Run("replay", Fixture("kvm-long-zstd.data"));
        Assert.True(exit == 0, err);
        Assert.Contains("134 records", output, StringComparison.Ordinal);
    }
}
