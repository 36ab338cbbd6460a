using System.Text.Json.Serialization;

namespace FastRmp.Cli.Reports;

/// <summary>The data report.js draws the maps from, embedded in the page as JSON (camelCase names, as the script reads them).</summary>
/// <param name="Colors">The colour of each host region state, by its value.</param>
/// <param name="Names">The legend's name of each state, by its value.</param>
/// <param name="Columns">Map columns (regions per row).</param>
/// <param name="Cell">Map cell size in pixels.</param>
/// <param name="ZoomColumns">Columns of the enlarged map.</param>
/// <param name="ZoomCell">Cell size of the enlarged map.</param>
/// <param name="Runs">The runs, in table order.</param>
/// <param name="DiffColors">The colours of a difference map's cells: agrees (0), disagrees (1).</param>
internal sealed record HtmlReportData(IReadOnlyList<string> Colors, IReadOnlyList<string> Names, int Columns, int Cell, int ZoomColumns, int ZoomCell, IReadOnlyList<HtmlRunData> Runs, IReadOnlyList<string> DiffColors);

/// <summary>One run: its label, its group ("" for none), its map and its difference map, each left out when the run has none.</summary>
internal sealed record HtmlRunData(
    string Label,
    string Group,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] HtmlMapData? Map,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] HtmlMapData? Diff = null);

/// <summary>A run's host map (host pages, 2 MiB regions, states) or difference map (guest pages, 2 MiB regions, 0 agrees / 1 disagrees), encoded by <see cref="MapEncoding"/>.</summary>
internal sealed record HtmlMapData(ulong Pages, int Regions, string Encoding, string Data);

/// <summary>
/// The serializer of <see cref="HtmlReportData"/>, generated at build time. Its default encoder escapes &lt;, &gt;
/// and &amp;, so no label can close the script element the data sits in.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HtmlReportData))]
internal sealed partial class HtmlReportJsonContext : JsonSerializerContext;
