using System.Text.Json;
using System.Text.RegularExpressions;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary><c>fastrmp export</c> and <c>fastrmp sql</c> end to end: the dataset, the queries of docs/sql.md, bad input.</summary>
public sealed partial class ExportCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fastrmp-export-cli-" + Guid.NewGuid().ToString("N"));

    public ExportCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Export_of_two_hosts_then_sql_counts_every_record_per_host()
    {
        var a = SnpTraceFixture.Write(Path.Combine(_dir, "a1.dat"), 400, seed: 4);
        var b = SnpTraceFixture.Write(Path.Combine(_dir, "b2.dat.zst"), 700, seed: 7, compression: "zstd");
        string dataset = Path.Combine(_dir, "fleet");
        var (exit, output, err) = CliRunner.Run("export", Path.Combine(_dir, "a1.dat"), Path.Combine(_dir, "b2.dat.zst"), "--parquet", dataset, "--replay", "--policies", "first-use,fault-hook");
        Assert.True(exit == 0, err);
        Assert.Contains($"host a1: {a.Records} records", output, StringComparison.Ordinal);
        Assert.Contains($"host b2: {b.Records} records", output, StringComparison.Ordinal);

        (exit, output, err) = CliRunner.Run("sql", "SELECT host, count(*) AS n FROM events GROUP BY host ORDER BY host", dataset, "--format", "json");
        Assert.True(exit == 0, err);
        using var json = JsonDocument.Parse(output);
        var rows = json.RootElement.EnumerateArray().Select(r => (r.GetProperty("host").GetString(), r.GetProperty("n").GetInt64())).ToList();
        Assert.Equal([("a1", a.Records), ("b2", b.Records)], rows);

        (exit, output, err) = CliRunner.Run("sql", "SELECT DISTINCT policy FROM decisions ORDER BY policy", dataset, "--format", "csv");
        Assert.True(exit == 0, err);
        Assert.Equal("policy\nfault-hook\nfirst-use\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Every_query_of_docs_sql_md_runs_on_a_two_host_replayed_dataset()
    {
        string dataset = FleetWithReplay();
        var queries = SqlBlock().Matches(File.ReadAllText(Path.Combine(Repository.Root(), "docs", "sql.md"))).Select(m => m.Groups[1].Value).ToList();
        Assert.True(queries.Count >= 6, $"docs/sql.md has {queries.Count} sql blocks");
        foreach (string query in queries)
        {
            var (exit, output, err) = CliRunner.Run("sql", query, dataset, "--format", "json");
            Assert.True(exit == 0, $"{query}\n{err}");
            using var json = JsonDocument.Parse(output);
            Assert.True(json.RootElement.GetArrayLength() > 0, $"no rows from:\n{query}");
            Assert.Contains("host", json.RootElement[0].EnumerateObject().Select(p => p.Name));
        }
    }

    [Fact]
    public void Sql_on_traces_exports_them_to_a_temporary_dataset()
    {
        var s = SnpTraceFixture.Write(Path.Combine(_dir, "h.dat"), 200, seed: 2);
        var (exit, output, err) = CliRunner.Run("sql", "SELECT count(*) AS n FROM events", Path.Combine(_dir, "h.dat"), "--format", "csv");
        Assert.True(exit == 0, err);
        Assert.Equal($"n\n{s.Records}\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_dataset_directory_that_holds_the_trace_is_refused()
    {
        string trace = Path.Combine(_dir, "h.dat");
        SnpTraceFixture.Write(trace, 50);
        var (exit, _, err) = CliRunner.Run("export", trace, "--parquet", _dir);
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("the trace", err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Empty(Directory.EnumerateDirectories(_dir));
    }

    [Fact]
    public void A_file_that_is_not_a_trace_is_one_line_naming_it()
    {
        string bad = Path.Combine(_dir, "bad.dat");
        File.WriteAllBytes(bad, [0x17, 0x08, 0x44, (byte)'t', (byte)'r', (byte)'a', (byte)'c', (byte)'i', (byte)'n', (byte)'g', 0, 0, 0, 0]);
        var (exit, _, err) = CliRunner.Run("export", bad, "--parquet", Path.Combine(_dir, "ds"));
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains(bad, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void A_bad_query_and_a_directory_that_is_no_dataset_are_one_line_errors()
    {
        string dataset = Path.Combine(_dir, "ds");
        SnpTraceFixture.Write(Path.Combine(_dir, "h.dat"), 20);
        Assert.Equal(0, CliRunner.Run("export", Path.Combine(_dir, "h.dat"), "--parquet", dataset).Exit);

        var (exit, _, err) = CliRunner.Run("sql", "SELECT nope FROM kvm_page_fault", dataset);
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.StartsWith("fastrmp: sql: Binder Error", err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));

        string empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        (exit, _, err) = CliRunner.Run("sql", "SELECT 1", empty);
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("not a FastRmp dataset", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_parquet_file_in_the_dataset_is_one_line_naming_it()
    {
        string dataset = Path.Combine(_dir, "ds");
        SnpTraceFixture.Write(Path.Combine(_dir, "h.dat"), 20);
        Assert.Equal(0, CliRunner.Run("export", Path.Combine(_dir, "h.dat"), "--parquet", dataset).Exit);
        string victim = Directory.EnumerateFiles(dataset, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        File.WriteAllText(victim, "not parquet");
        var (exit, _, err) = CliRunner.Run("sql", "SELECT count(*) FROM events", dataset);
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains(victim, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--policies", "first-use")]
    [InlineData("--vm-type", "tdx")]
    public void Replay_options_without_replay_are_a_usage_error(string option, string value)
    {
        var (exit, _, err) = CliRunner.Run("export", Path.Combine(_dir, "h.dat"), "--parquet", Path.Combine(_dir, "ds"), option, value);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("add --replay", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "ds")));
    }

    [Fact]
    public void A_TDX_design_without_vm_type_tdx_is_a_usage_error()
    {
        var (exit, _, err) = CliRunner.Run("export", Path.Combine(_dir, "h.dat"), "--parquet", Path.Combine(_dir, "ds"), "--replay", "--policies", "tdx");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("add --vm-type tdx", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Exporting_a_host_twice_into_one_dataset_is_refused()
    {
        string trace = Path.Combine(_dir, "h.dat");
        SnpTraceFixture.Write(trace, 20);
        string dataset = Path.Combine(_dir, "ds");
        Assert.Equal(0, CliRunner.Run("export", trace, "--parquet", dataset).Exit);
        var (exit, _, err) = CliRunner.Run("export", trace, "--parquet", dataset);
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("already in the dataset", err, StringComparison.Ordinal);
    }

    private string FleetWithReplay()
    {
        string dataset = Path.Combine(_dir, "fleet");
        SnpTraceFixture.Write(Path.Combine(_dir, "host-a.dat"), 500, seed: 11, hugeEvery: 5);
        SnpTraceFixture.Write(Path.Combine(_dir, "host-b.dat"), 300, seed: 12);
        var (exit, _, err) = CliRunner.Run("export", Path.Combine(_dir, "host-a.dat"), Path.Combine(_dir, "host-b.dat"), "--parquet", dataset, "--replay");
        Assert.True(exit == 0, err);
        return dataset;
    }

    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();
}
