using System.Text.Json;
using System.Text.RegularExpressions;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Reports;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The replay report's difference map (issue 15): one cell per 2 MiB of guest physical addresses, marked where the
/// policy disagreed with the traced kernel. The expected cells come from how the trace was written: SnpTraceFixture with
/// <c>hugeEvery</c> maps some private faults at level 2, each in its own fresh 2 MiB guest block; everything else is
/// the 4K first-use host. Replayed with 4K folios the model can only map those faults at 4K, so exactly the huge blocks
/// differ; with the default (<c>--folio auto</c>: a 2M folio where the trace shows a private 2M leaf) none does.
/// </summary>
public sealed partial class DifferenceMapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-diffmap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (string Html, long HugeBlocks) Replay(string dir, string folio)
    {
        string trace = Path.Combine(dir, "huge.dat");
        var summary = SnpTraceFixture.Write(trace, faults: 400, seed: 11, hugeEvery: 6);
        Assert.True(summary.HugeBlocks >= 20, $"only {summary.HugeBlocks} 2M blocks written");
        string html = Path.Combine(dir, $"report-{folio}.html");
        var (exit, _, err) = CliRunner.Run("replay", trace, "--policy", "first-use", "--folio", folio, "--host-size", "64G", "--html", html);
        Assert.True(exit == 0, err);
        return (html, summary.HugeBlocks);
    }

    [Theory]
    [InlineData("4k", true)]
    [InlineData("auto", false)]
    public void The_difference_map_marks_exactly_the_regions_where_the_policy_could_not_follow_the_trace(string folio, bool hugeDiffer)
    {
        var (html, huge) = Replay(_dir, folio);
        string page = File.ReadAllText(html);
        var match = DataScript().Match(page);
        Assert.True(match.Success, "no embedded data");
        using var doc = JsonDocument.Parse(match.Groups[1].Value);
        var run = doc.RootElement.GetProperty("runs")[0];
        var diff = run.GetProperty("diff");
        var diffCells = MapEncoding.Decode(diff.GetProperty("encoding").GetString()!, diff.GetProperty("data").GetString()!, diff.GetProperty("regions").GetInt32());
        long differing = diffCells.Count(c => c == HostRegionState.Shared);
        Assert.Equal(hugeDiffer ? huge : 0, differing);
        Assert.Equal(0, diffCells.Count(c => c is not (HostRegionState.Free or HostRegionState.Shared)));
        // The guest reaches the high slot (4 GiB + 2 GiB): the map covers at least 6 GiB of guest addresses.
        Assert.True(diffCells.Length >= 3 * 1024, $"{diffCells.Length} cells");
        Assert.Contains($"data-differing=\"{differing}\"", page, StringComparison.Ordinal);

        // The table's trace row: the traced 2M leaves (npt_2m's column) are the fixture's 2M blocks, one fault each.
        var row = TraceRow().Match(page);
        Assert.True(row.Success, "no trace row in the counters table");
        var cells = CellText().Matches(row.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
        int npt2m = HtmlReport.TableCounters.ToList().IndexOf("npt_2m");
        Assert.Equal(huge.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), cells[npt2m + 1]); // after the folio cell
    }

    [GeneratedRegex("<tr class=\"trace\">(.*?)</tr>", RegexOptions.Singleline)]
    private static partial Regex TraceRow();

    [GeneratedRegex("<td[^>]*>(.*?)</td>")]
    private static partial Regex CellText();

    [GeneratedRegex("<script type=\"application/json\" id=\"fastrmp-data\">(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex DataScript();
}
