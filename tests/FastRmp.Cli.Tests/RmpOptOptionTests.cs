using System.Text.Json;
using FastRmp.Engine.Metrics;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// <c>--rmpopt</c> on scenario, replay and compare, and the teardown-rmpopt scenario: the host gets RMPOPT, the results
/// gain its counters and the JSON says so. Expected values are derived by hand in docs/rmpopt.md (and repeated in
/// FastRmp.Engine.Tests RmpOptScenarioTests).
/// </summary>
public sealed class RmpOptOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-rmpopt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Teardown_rmpopt_prints_and_writes_the_derived_counts()
    {
        // docs/rmpopt.md: first-use, 4 KiB folios: 5 regions optimised, regions 0 and 1 disabled and re-enabled,
        // 2 checks skipped (the first write in each of regions 0 and 1), 262,654 made.
        var (exit, output, err) = CliRunner.Run("scenario", "teardown-rmpopt", "--json", PathOf("t.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("RMPOPT", output, StringComparison.Ordinal);
        Assert.Contains("rmpopt_checks_skipped", output, StringComparison.Ordinal);
        var run = Json(PathOf("t.json"))[0];
        Assert.True(run.GetProperty("rmpopt").GetBoolean());
        var c = run.GetProperty("counters");
        Assert.Equal(5, c.GetProperty("rmpopt_regions_optimized").GetInt64());
        Assert.Equal(2, c.GetProperty("rmpopt_regions_disabled").GetInt64());
        Assert.Equal(2, c.GetProperty("rmpopt_regions_reenabled").GetInt64());
        Assert.Equal(5, c.GetProperty("rmpopt_regions_on").GetInt64());
        Assert.Equal(2, c.GetProperty("rmpopt_checks_skipped").GetInt64());
        Assert.Equal(262_654, c.GetProperty("rmpopt_checks_made").GetInt64());
    }

    [Fact]
    public void Rmpopt_on_another_scenario_adds_its_counters_after_the_models_and_changes_none()
    {
        // share-4k-keep, 4 KiB folios, 16 MiB guest on a 4 GiB host (4 regions): the chunk's 512 folios are zeroed
        // then made private one by one in region 0: 1 skipped, 511 made, region 0 disabled, 3 regions still on.
        var (exit, _, err) = CliRunner.Run("scenario", "share-4k-keep", "--rmpopt", "--json", PathOf("on.json"));
        Assert.True(exit == 0, err);
        (exit, _, err) = CliRunner.Run("scenario", "share-4k-keep", "--json", PathOf("off.json"));
        Assert.True(exit == 0, err);
        var on = Json(PathOf("on.json"))[0];
        var off = Json(PathOf("off.json"))[0];
        Assert.True(on.GetProperty("rmpopt").GetBoolean());
        Assert.False(off.GetProperty("rmpopt").GetBoolean());
        string[] onNames = [.. on.GetProperty("counters").EnumerateObject().Select(p => p.Name)];
        string[] offNames = [.. off.GetProperty("counters").EnumerateObject().Select(p => p.Name)];
        Assert.Equal(CounterCatalog.Model.Concat(CounterCatalog.RmpOpt).Select(x => x.Name), onNames);
        Assert.Equal(CounterCatalog.Model.Select(x => x.Name), offNames);
        foreach (var p in off.GetProperty("counters").EnumerateObject())
        {
            Assert.Equal(p.Value.GetInt64(), on.GetProperty("counters").GetProperty(p.Name).GetInt64());
        }

        var c = on.GetProperty("counters");
        Assert.Equal(4, c.GetProperty("rmpopt_regions_optimized").GetInt64());
        Assert.Equal(1, c.GetProperty("rmpopt_regions_disabled").GetInt64());
        Assert.Equal(3, c.GetProperty("rmpopt_regions_on").GetInt64());
        Assert.Equal(1, c.GetProperty("rmpopt_checks_skipped").GetInt64());
        Assert.Equal(511, c.GetProperty("rmpopt_checks_made").GetInt64());
    }

    [Fact]
    public void Replay_and_compare_take_rmpopt_and_report_it()
    {
        string trace = PathOf("t.dat");
        SnpTraceFixture.Write(trace, faults: 2000, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("replay", trace, "--host-size", "64G", "--rmpopt", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        Assert.Contains(CounterCatalog.RmpOptChecksSkipped.Title, output, StringComparison.Ordinal);
        var report = Json(PathOf("r.json"));
        Assert.True(report.GetProperty("options").GetProperty("rmpopt").GetBoolean());
        var counters = report.GetProperty("runs")[0].GetProperty("counters");
        Assert.Equal(CounterCatalog.All.Where(x => x.Set != CounterSet.Tdx).Select(x => x.Name), counters.EnumerateObject().Select(p => p.Name));

        // A 64 GiB host has 64 regions, all optimised at start. Under first-use with 4 KiB folios every host write the
        // replay makes is followed by that page's conversion to private (get_pfn zeroes a new folio, then prepares
        // it; the launch update copies a page, then makes it private), so checks skipped + made = 4K RMPUPDATEs to
        // private; every region turned off is still off (no teardown in a trace).
        Assert.Equal(64, counters.GetProperty("rmpopt_regions_optimized").GetInt64());
        Assert.True(counters.GetProperty("rmpopt_regions_disabled").GetInt64() >= 1);
        Assert.Equal(
            counters.GetProperty("rmpupdate_to_private").GetInt64(),
            counters.GetProperty("rmpopt_checks_skipped").GetInt64() + counters.GetProperty("rmpopt_checks_made").GetInt64());
        Assert.Equal(
            counters.GetProperty("rmpopt_regions_optimized").GetInt64() - counters.GetProperty("rmpopt_regions_disabled").GetInt64(),
            counters.GetProperty("rmpopt_regions_on").GetInt64());

        (exit, _, err) = CliRunner.Run("compare", trace, "--host-size", "64G", "--policies", "first-use,every-get-pfn", "--rmpopt", "--json", PathOf("c.json"));
        Assert.True(exit == 0, err);
        var compare = Json(PathOf("c.json"));
        Assert.True(compare.GetProperty("options").GetProperty("rmpopt").GetBoolean());
        Assert.All(compare.GetProperty("runs").EnumerateArray(), r => Assert.True(r.GetProperty("counters").TryGetProperty("rmpopt_checks_made", out _)));

        (exit, _, err) = CliRunner.Run("replay", trace, "--host-size", "64G", "--json", PathOf("off.json"));
        Assert.True(exit == 0, err);
        var off = Json(PathOf("off.json"));
        Assert.False(off.GetProperty("options").GetProperty("rmpopt").GetBoolean());
        Assert.False(off.GetProperty("runs")[0].GetProperty("counters").TryGetProperty("rmpopt_checks_made", out _));
    }

    [Fact]
    public void The_html_report_says_the_host_had_rmpopt()
    {
        var (exit, _, err) = CliRunner.Run("scenario", "share-4k-keep", "--rmpopt", "--html", PathOf("on.html"));
        Assert.True(exit == 0, err);
        Assert.Contains("share-4k-keep, folio 4k, kernel 6.18, RMPOPT", File.ReadAllText(PathOf("on.html")), StringComparison.Ordinal);
        (exit, _, err) = CliRunner.Run("scenario", "share-4k-keep", "--html", PathOf("off.html"));
        Assert.True(exit == 0, err);
        Assert.DoesNotContain("RMPOPT", File.ReadAllText(PathOf("off.html")), StringComparison.Ordinal);
    }

    [Fact]
    public void The_counters_command_lists_the_rmpopt_set()
    {
        var (exit, output, err) = CliRunner.Run("counters", "--json");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output);
        var sets = doc.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("set").GetString());
        Assert.All(CounterCatalog.RmpOpt, c => Assert.Equal("rmpopt", sets[c.Name]));
    }
}
