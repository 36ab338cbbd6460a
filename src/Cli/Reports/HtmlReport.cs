using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Reports;

namespace FastRmp.Cli.Reports;

/// <summary>
/// The report people read in a browser: one self-contained HTML page (inline CSS and script, no network) with the
/// runs' counters side by side, each run's NPT leaf levels, and each run's host memory, one cell per 2 MiB region.
/// </summary>
/// <remarks>
/// The maps are drawn by report.js on canvases from data embedded as JSON (<see cref="MapEncoding"/>), all at the
/// same scale (columns and cell size fixed by the largest map), so a 1 TiB host costs at most a few hundred KiB of
/// page. Every text is HTML-escaped; the JSON escapes &lt;, &gt; and &amp;, so no label can close the script
/// element. The page is deterministic: the same runs give the same bytes.
/// </remarks>
internal static partial class HtmlReport
{
    /// <summary>The counters of the comparison table, in column order; a header's tooltip is the catalog's title, description and unit.</summary>
    public static IReadOnlyList<CounterInfo> TableColumns { get; } =
    [
        CounterCatalog.FaultsPrivate, CounterCatalog.FaultsShared, CounterCatalog.MemoryFaultExits, CounterCatalog.RmpUpdate4K,
        CounterCatalog.RmpUpdate2M, CounterCatalog.Psmash, CounterCatalog.RmpLookups, CounterCatalog.RmpNpf, CounterCatalog.Zapped,
        CounterCatalog.Npt4K, CounterCatalog.Npt2M, CounterCatalog.Npt1G, CounterCatalog.Rmp2MEntries, CounterCatalog.Rmp4KEntries,
    ];

    /// <summary>The names of <see cref="TableColumns"/>.</summary>
    public static IReadOnlyList<string> TableCounters { get; } = [.. TableColumns.Select(c => c.Name)];

    /// <summary>The colour of each <see cref="HostRegionState"/> on the maps, by its value (report.js uses these).</summary>
    public static IReadOnlyList<string> StateColors { get; } = ["#e4e7eb", "#6b9bd1", "#2f9e58", "#f2a23a", "#d7263d"];

    /// <summary>The colours of a difference map: a guest region where the run agreed with the trace (or nothing was compared), and one where it disagreed.</summary>
    public static IReadOnlyList<string> DiffColors { get; } = ["#e4e7eb", "#8e24aa"];

    /// <summary>The legend's name of each <see cref="HostRegionState"/>, by its value.</summary>
    public static IReadOnlyList<string> StateNames { get; } = ["free", "shared", "private 2M", "private 4K", "smashed"];

    /// <summary>Writes the page.</summary>
    /// <param name="w">Where the page goes (UTF-8 is what the page declares).</param>
    /// <param name="title">The page's title and heading.</param>
    /// <param name="source">One line on what produced the runs (a command line, a trace file).</param>
    /// <param name="runs">The runs, in the order the table lists them; runs of one group are shown together.</param>
    public static void Write(TextWriter w, string title, string source, IReadOnlyList<ReportRun> runs)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(runs);
        var layout = MapLayout.For(runs);
        var groups = runs.Select((run, index) => (run, index)).GroupBy(x => x.run.Group ?? string.Empty).ToList();

        w.Write("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        w.Write("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        w.Write($"<title>{Html(title)}</title>\n<style>\n{Asset("report.css")}</style>\n</head>\n<body>\n");
        w.Write($"<header>\n<h1>{Html(title)}</h1>\n<p class=\"source\">{Html(source)}</p>\n");
        w.Write($"<p class=\"summary\">{runs.Count} run{(runs.Count == 1 ? "" : "s")}{layout.Describe()}</p>\n");
        WriteLegend(w);
        w.Write("</header>\n<main>\n<h2>Counters</h2>\n");
        WriteTable(w, groups);
        foreach (var group in groups)
        {
            WriteGroup(w, group.Key, [.. group], layout);
        }

        w.Write("</main>\n<div id=\"tip\" hidden></div>\n");
        w.Write("<script type=\"application/json\" id=\"fastrmp-data\">");
        WriteData(w, runs, layout);
        w.Write($"</script>\n<script>\n{Asset("report.js")}</script>\n</body>\n</html>\n");
    }

    private static void WriteLegend(TextWriter w)
    {
        w.Write("<ul class=\"legend\">");
        for (int s = 0; s < StateNames.Count; s++)
        {
            w.Write($"<li><i class=\"sw\" style=\"background:{StateColors[s]}\"></i>{StateNames[s]}</li>");
        }

        w.Write("</ul>\n<p class=\"note\">Host memory: one cell per 2 MiB region, lowest address top left, rows left to right. ");
        w.Write("<b>private</b>: RMP entries assigned to the guest; <b>smashed</b>: a 2M entry split by PSMASH that still holds the guest's 4K entries; ");
        w.Write("<b>shared</b>: allocated, nothing private to the guest; <b>free</b>: every page free in the host allocator.</p>\n");
    }

    private static void WriteTable(TextWriter w, List<IGrouping<string, (ReportRun Run, int Index)>> groups)
    {
        w.Write("<div class=\"table-wrap\"><table class=\"counters\">\n<thead><tr><th>run</th><th>folio</th>");
        foreach (var counter in TableColumns)
        {
            w.Write($"<th title=\"{Html($"{counter.Title}: {counter.Description} ({counter.Unit})")}\">{Html(counter.Name).Replace("_", "_<wbr>", StringComparison.Ordinal)}</th>");
        }

        w.Write("</tr></thead>\n");
        foreach (var group in groups)
        {
            w.Write("<tbody>");
            if (group.Key.Length > 0)
            {
                w.Write($"<tr class=\"group\"><th colspan=\"{TableCounters.Count + 2}\">{Html(group.Key)}</th></tr>");
            }

            if (group.First().Run.Traced is { } traced)
            {
                // The trace's own numbers beside the model's, where the trace has them (the terminal's trace column).
                w.Write("<tr class=\"trace\"><th title=\"what the replayed trace shows\">trace</th><td class=\"folio\">&ndash;</td>");
                foreach (var counter in TableColumns)
                {
                    w.Write(TraceColumn.For(counter, traced) is { } v ? $"<td>{v.ToString("N0", CultureInfo.InvariantCulture)}</td>" : "<td>&ndash;</td>");
                }

                w.Write("</tr>\n");
            }

            foreach (var (run, _) in group)
            {
                w.Write($"<tr><th>{Html(run.Label)}</th><td class=\"folio\">{Html(run.Folio)}</td>");
                foreach (string counter in TableCounters)
                {
                    long? value = run.Counter(counter);
                    bool differs = group.Select(x => x.Run.Counter(counter)).Distinct().Skip(1).Any();
                    w.Write(differs ? "<td class=\"differs\">" : "<td>");
                    w.Write(value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "&ndash;");
                    w.Write("</td>");
                }

                w.Write("</tr>\n");
            }

            w.Write("</tbody>\n");
        }

        w.Write("</table></div>\n<p class=\"note\">Highlighted: values that differ between the runs of a group.</p>\n");
    }

    private static void WriteData(TextWriter w, IReadOnlyList<ReportRun> runs, MapLayout layout)
    {
        var data = new HtmlReportData(
            StateColors,
            StateNames,
            layout.Columns,
            layout.Cell,
            ZoomColumns,
            ZoomCell,
            [.. runs.Select(run => new HtmlRunData(run.Label, run.Group ?? string.Empty, run.Map is { } map ? MapData(map) : null, DiffData(run, layout)))],
            DiffColors);
        w.Write(JsonSerializer.Serialize(data, HtmlReportJsonContext.Default.HtmlReportData));
    }

    private static HtmlMapData MapData(HostMemoryMap map)
    {
        var (encoding, base64) = MapEncoding.Encode(map.Regions);
        return new HtmlMapData(map.HostPages, map.Regions.Length, encoding, base64);
    }

    /// <summary>A run's difference map as states (0 agrees, 1 disagrees) over whole rows of the guest's regions, or null.</summary>
    internal static HostRegionState[]? DiffStates(ReportRun run, MapLayout layout)
    {
        if (run.Differences is not { } differences)
        {
            return null;
        }

        ulong extent = Math.Max(run.GuestRegions, differences.Count == 0 ? 1 : differences.Max() + 1);
        ulong regions = Math.Min((ulong)MaxDiffRegions, (extent + (ulong)layout.Columns - 1) / (ulong)layout.Columns * (ulong)layout.Columns);
        var states = new HostRegionState[regions];
        foreach (ulong r in differences)
        {
            if (r < regions)
            {
                states[r] = HostRegionState.Shared;
            }
        }

        return states;
    }

    /// <summary>The most guest regions a difference map draws: 4 TiB of guest memory.</summary>
    private const int MaxDiffRegions = 2 << 20;

    private static HtmlMapData? DiffData(ReportRun run, MapLayout layout)
    {
        if (DiffStates(run, layout) is not { } states)
        {
            return null;
        }

        var (encoding, base64) = MapEncoding.Encode(states);
        return new HtmlMapData((ulong)states.Length * HostMemoryMap.PagesPerRegion, states.Length, encoding, base64);
    }

    private static string Html(string text) => WebUtility.HtmlEncode(text);

    private static string Asset(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"FastRmp.Cli.Reports.{name}")
            ?? throw new InvalidOperationException($"The report asset {name} is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
