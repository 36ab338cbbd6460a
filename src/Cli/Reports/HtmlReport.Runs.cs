using System.Globalization;
using FastRmp.Engine.Reports;

namespace FastRmp.Cli.Reports;

internal static partial class HtmlReport
{
    private static readonly (string Counter, string Name, int Shift, string Color)[] s_levels =
    [
        ("npt_4k", "4K", 12, "#f2a23a"), ("npt_2m", "2M", 21, "#2f9e58"), ("npt_1g", "1G", 30, "#6a4fb3"),
    ];

    // A group: its runs side by side, each a card with the NPT levels and the host map.
    private static void WriteGroup(TextWriter w, string name, (ReportRun Run, int Index)[] runs, MapLayout layout)
    {
        w.Write($"<section class=\"group\">\n<h2>{(name.Length > 0 ? Html(name) : "Runs")}</h2>\n<div class=\"cards\">\n");
        int zoom = ZoomRegions(runs);
        long maxBytes = runs.SelectMany(x => s_levels.Select(l => (x.Run.Counter(l.Counter) ?? 0) << l.Shift)).DefaultIfEmpty(0).Max();
        foreach (var (run, index) in runs)
        {
            w.Write($"<article class=\"card\" style=\"width:{Math.Max(layout.Columns * layout.Cell, ZoomColumns * ZoomCell) + 30}px\">\n<h3>{Html(run.Label)} <span class=\"folio\">folio {Html(run.Folio)}</span></h3>\n");
            if (run.Notes is { Count: > 0 } notes)
            {
                w.Write($"<ul class=\"note\">{string.Concat(notes.Select(n => $"<li>{Html(n)}</li>"))}</ul>\n");
            }

            WriteLevels(w, run, maxBytes);
            if (run.Map is { } map)
            {
                WriteMap(w, map, index, layout, zoom, run.HostPages);
            }
            else
            {
                w.Write("<p class=\"note\">No host memory map for this run.</p>\n");
            }

            if (DiffStates(run, layout) is { } diff)
            {
                WriteDifferences(w, diff, run.Differences!.Count, index, layout);
            }

            w.Write("</article>\n");
        }

        w.Write("</div>\n</section>\n");
    }

    private const int ZoomColumns = 32;
    private const int ZoomCell = 16;

    // When everything the group's runs use lies in the first eighth of their maps (a small guest on a large host),
    // the regions up to the last one not free, rounded up to a row of 32, drawn again at 16 pixels a cell; else 0.
    private static int ZoomRegions((ReportRun Run, int Index)[] runs)
    {
        int extent = 0, regions = 0;
        foreach (var (run, _) in runs)
        {
            if (run.Map is { } map)
            {
                var states = map.Regions;
                int last = states.Length - 1;
                while (last >= 0 && states[last] == HostRegionState.Free)
                {
                    last--;
                }

                extent = Math.Max(extent, last + 1);
                regions = Math.Max(regions, states.Length);
            }
        }

        int zoom = Math.Max(ZoomColumns, (extent + ZoomColumns - 1) / ZoomColumns * ZoomColumns);
        return extent > 0 && zoom * 8 <= regions ? zoom : 0;
    }

    // The NPT leaves at the end by level, as bars of the guest memory they map, on one scale for the group.
    private static void WriteLevels(TextWriter w, ReportRun run, long maxBytes)
    {
        const int barMax = 170;
        const int rowHeight = 20;
        var label = string.Join(", ", s_levels.Select(l => $"{run.Counter(l.Counter) ?? 0} {l.Name}"));
        w.Write($"<svg class=\"levels\" width=\"340\" height=\"{(s_levels.Length * rowHeight) + 4}\" role=\"img\" aria-label=\"NPT leaves: {Html(label)}\">");
        w.Write("<title>NPT leaves at the end by level; bar length = guest memory mapped, on one scale for the group</title>");
        for (int i = 0; i < s_levels.Length; i++)
        {
            var (counter, levelName, shift, color) = s_levels[i];
            long count = run.Counter(counter) ?? 0;
            long bytes = count << shift;
            double width = maxBytes == 0 || count == 0 ? 0 : Math.Max(2, barMax * (double)bytes / maxBytes);
            int y = i * rowHeight;
            string text = count == 0 ? "0" : $"{count.ToString("N0", CultureInfo.InvariantCulture)} = {MapLayout.Bytes(bytes)}";
            w.Write($"<text x=\"0\" y=\"{y + 15}\" class=\"lvl\">{levelName}</text>");
            w.Write($"<rect x=\"26\" y=\"{y + 4}\" width=\"{barMax}\" height=\"14\" class=\"track\"/>");
            w.Write($"<rect x=\"26\" y=\"{y + 4}\" width=\"{width.ToString("0.#", CultureInfo.InvariantCulture)}\" height=\"14\" fill=\"{color}\"/>");
            w.Write($"<text x=\"{26 + barMax + 6}\" y=\"{y + 15}\">{text}</text>");
        }

        w.Write("</svg>\n");
    }

    // The difference map: guest memory, one cell per 2 MiB of guest physical addresses, marked where the run disagreed
    // with the traced kernel.
    private static void WriteDifferences(TextWriter w, HostRegionState[] states, int differing, int index, MapLayout layout)
    {
        int width = layout.Columns * layout.Cell;
        int height = layout.Rows(states.Length) * layout.Cell;
        w.Write($"<h4>Difference map against the trace</h4>\n<canvas class=\"diff\" data-run=\"{index}\" width=\"{width}\" height=\"{height}\" style=\"width:{width}px\"></canvas>\n");
        w.Write($"<p class=\"host\">Guest memory from 0 to {MapLayout.Bytes((long)states.Length << 21)}, one cell = 2 MiB of guest physical addresses: ");
        w.Write($"<i class=\"sw\" style=\"background:{DiffColors[1]}\"></i><b data-differing=\"{differing}\">{differing.ToString("N0", CultureInfo.InvariantCulture)}</b> region{(differing == 1 ? "" : "s")} where this run disagreed with the traced kernel ");
        w.Write("(a fault's mapping level or exit, or an RMP fault on one side only); the rest agreed or saw no decision.</p>\n");
    }

    private static void WriteMap(TextWriter w, HostMemoryMap map, int index, MapLayout layout, int zoom, ulong? hostPages)
    {
        int width = layout.Columns * layout.Cell;
        int height = layout.Rows(map.Regions.Length) * layout.Cell;
        w.Write($"<canvas class=\"map\" data-run=\"{index}\" width=\"{width}\" height=\"{height}\" style=\"width:{width}px\"></canvas>\n");
        string shown = hostPages is { } all && all > map.HostPages
            ? $"host {MapLayout.Bytes((long)all << 12)}, shown: the first {MapLayout.Bytes((long)map.HostPages << 12)} (the rest is free)"
            : $"host {MapLayout.Bytes((long)map.HostPages << 12)}";
        w.Write($"<p class=\"host\">{shown}, one cell = 2 MiB, one row = {MapLayout.Bytes((long)layout.Columns << 21)}</p>\n");
        if (zoom > 0)
        {
            int rows = (Math.Min(zoom, map.Regions.Length) + ZoomColumns - 1) / ZoomColumns;
            w.Write($"<p class=\"host\">The first {MapLayout.Bytes((long)zoom << 21)}, enlarged:</p>\n");
            w.Write($"<canvas class=\"zoom\" data-run=\"{index}\" data-regions=\"{zoom}\" width=\"{ZoomColumns * ZoomCell}\" height=\"{rows * ZoomCell}\"></canvas>\n");
        }

        w.Write("<ul class=\"counts\">");
        long total = map.Regions.Length;
        for (int s = 0; s < StateNames.Count; s++)
        {
            long count = map.Count((HostRegionState)s);
            double percent = total == 0 ? 0 : 100.0 * count / total;
            string share = count > 0 && percent < 0.1 ? "&lt;0.1" : percent.ToString("0.#", CultureInfo.InvariantCulture);
            w.Write($"<li data-state=\"{s}\"><i class=\"sw\" style=\"background:{StateColors[s]}\"></i>{StateNames[s]} <b>{count.ToString("N0", CultureInfo.InvariantCulture)}</b> <small>{share}%</small></li>");
        }

        w.Write("</ul>\n");
    }
}
