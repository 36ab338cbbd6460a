using System.Text.Json;
using FastRmp.Cli.Commands;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Metrics;

namespace FastRmp.Cli.Tests;

/// <summary><c>fastrmp counters</c> and the catalog's use in the other reports.</summary>
public sealed class CountersCommandTests
{
    [Fact]
    public void Json_lists_the_whole_catalog_in_order()
    {
        var (exit, output, err) = CliRunner.Run("counters", "--json");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output);
        var entries = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(CounterCatalog.All.Select(c => c.Name), entries.Select(e => e.GetProperty("name").GetString()));
        var npf = entries.Single(e => e.GetProperty("name").GetString() == "rmp_npf");
        Assert.Equal(CounterCatalog.RmpNpf.Title, npf.GetProperty("title").GetString());
        Assert.Equal("faults", npf.GetProperty("unit").GetString());
        Assert.Contains("sev_handle_rmp_fault", npf.GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.Equal("model", npf.GetProperty("set").GetString());
        Assert.Equal("replay", entries[CounterCatalog.Model.Length + CounterCatalog.RmpOpt.Length].GetProperty("set").GetString());
        Assert.Equal("tdx", entries[^1].GetProperty("set").GetString());
    }

    [Fact]
    public void The_table_has_every_counter_and_its_unit()
    {
        var (exit, output, _) = CliRunner.Run("counters");
        Assert.Equal(0, exit);
        foreach (var c in CounterCatalog.All)
        {
            Assert.Contains(c.Name, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_counter_a_report_shows_is_in_the_catalog_and_documented()
    {
        // The tables pick catalog members; the docs must name every counter the catalog has.
        Assert.All(ScenarioCommands.Columns.Concat(ReplayCommands.Shown).Concat(HtmlReport.TableColumns), c => Assert.Same(c, CounterCatalog.Get(c.Name)));
        string docs = File.ReadAllText(Path.Combine(Repository.Root(), "docs", "cli.md")) + File.ReadAllText(Path.Combine(Repository.Root(), "docs", "replay.md"));
        Assert.All(CounterCatalog.All, c => Assert.Contains($"`{c.Name}`", docs, StringComparison.Ordinal));
    }
}
