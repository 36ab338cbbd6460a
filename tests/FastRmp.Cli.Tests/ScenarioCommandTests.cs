using System.Text.Json;

namespace FastRmp.Cli.Tests;

public sealed class ScenarioCommandTests : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"fastrmp-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_json);

    private JsonElement[] Results()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(_json));
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    private static long Counter(JsonElement result, string name) => result.GetProperty("counters").GetProperty(name).GetInt64();

    private static JsonElement Find(JsonElement[] results, string scenario, string policy)
        => results.Single(r => r.GetProperty("scenario").GetString() == scenario && r.GetProperty("policy").GetString() == policy);

    [Fact]
    public void With_no_command_every_scenario_runs_under_every_policy()
    {
        var (exit, output, err) = CliRunner.Run("--folio", "2m", "--json", _json);
        Assert.Equal(0, exit);
        Assert.Empty(err);
        Assert.Contains("folio 2m", output, StringComparison.Ordinal);
        Assert.Contains("memslots-512", output, StringComparison.Ordinal);
        var results = Results();
        Assert.Equal((FastRmp.Engine.Scenarios.ScenarioCatalog.All.Length * 4) + 5, results.Length); // every scenario under the four policies, then the side-by-side table's 5 TDX runs
        Assert.Equal(["tdx-2m"], results.Skip(FastRmp.Engine.Scenarios.ScenarioCatalog.All.Length * 4).Select(r => r.GetProperty("policy").GetString()).Distinct());
        Assert.All(results, r => Assert.Equal("2m", r.GetProperty("folio").GetString()));
        var keep = Find(results, "share-4k-keep", "first-use");
        Assert.Equal(1, Counter(keep, "psmash"));
        Assert.Equal(1, Counter(keep, "rmp_npf"));
        Assert.Equal(512, Counter(Find(results, "memslots-512", "fault-hook"), "rmpupdate_4k"));
        Assert.Equal(1, Counter(Find(results, "snp-boot", "alloc-blind"), "launch_update_failures"));
    }

    [Fact]
    public void One_scenario_prints_every_counter_and_writes_json()
    {
        var (exit, output, _) = CliRunner.Run("scenario", "snp-boot", "--policy", "first-use", "--folio", "2m", "--guest-size", "64M", "--json", _json);
        Assert.Equal(0, exit);
        Assert.Contains("rmp_2m_entries", output, StringComparison.Ordinal);
        var result = Results().Single();
        Assert.Equal(512 + 505 + 30, Counter(result, "faults_private")); // payload, the mixed chunk, 30 chunks at 2M
        Assert.Equal(1, Counter(result, "rmp_npf"));
    }

    [Fact]
    public void The_list_names_every_scenario_and_its_source()
    {
        var (exit, output, _) = CliRunner.Run("scenarios");
        Assert.Equal(0, exit);
        foreach (string name in new[] { "share-4k-keep", "share-4k-punch", "dirty-log", "memslots-512", "psmash-roundtrip", "snp-boot" })
        {
            Assert.Contains(name, output, StringComparison.Ordinal);
        }

        Assert.Contains("Roth", output, StringComparison.Ordinal);
    }

    // Exit 1 -> 2 (issue 13): a bad name or size on the command line is a usage error, found while parsing, and the
    // message names what is allowed.
    [Theory]
    [InlineData("no-such-scenario", "first-use", "4k", null, "unknown scenario 'no-such-scenario'; the scenarios are share-4k-keep, share-4k-punch, dirty-log")]
    [InlineData("share-4k-keep", "no-such-policy", "4k", null, "--policy: unknown policy 'no-such-policy'; the policies are fault-hook, alloc-blind, first-use, every-get-pfn, first-use-1g-rework, tdx, tdx-2m.")]
    [InlineData("share-4k-keep", "first-use", "3m", null, "--folio: '3m' is not a folio size; use 4k, 2m or 1g.")]
    [InlineData("snp-boot", "first-use", "2m", "lots", "--guest-size: 'lots' is not a size; give a number with K, M, G or T")]
    [InlineData("snp-boot", "first-use", "2m", "17M", "--guest-size: 17M is not a multiple of the folio size (2m)")]
    [InlineData("snp-boot", "first-use", "4k", "2T", "--guest-size: 2T is outside 16M to 1T.")]
    [InlineData("share-4k-keep", "first-use", "4k", "64M", "--guest-size: only snp-boot and td-boot take a guest size.")]
    public void Bad_names_and_sizes_are_usage_errors_with_exit_2(string scenario, string policy, string folio, string? size, string message)
    {
        var args = new List<string> { "scenario", scenario, "--policy", policy, "--folio", folio };
        if (size is not null)
        {
            args.AddRange(["--guest-size", size]);
        }

        var (exit, output, err) = CliRunner.Run([.. args]);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(message, err, StringComparison.Ordinal);
        var lines = err.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length); // the one-line message, then where help is
        Assert.StartsWith("fastrmp: ", lines[0], StringComparison.Ordinal);
        Assert.Equal("Run 'fastrmp --help' for usage.", lines[1]);
    }

    [Fact]
    public void The_comparison_table_titles_its_columns_from_the_catalog()
    {
        var (exit, output, _) = CliRunner.Run("--folio", "4k");
        Assert.Equal(0, exit);
        foreach (var counter in FastRmp.Cli.Commands.ScenarioCommands.Columns)
        {
            Assert.Contains(counter.Title, output, StringComparison.Ordinal);
        }
    }
}
