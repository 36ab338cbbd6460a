using System.Globalization;

namespace FastRmp.Cli.Reports;

/// <summary>
/// One scale for every map of a report: a power-of-two number of columns (so a row is a round amount of memory)
/// about twice the number of rows of the largest map, and a cell size that makes that map about 512 pixels wide
/// (1 to 16 pixels per cell).
/// </summary>
/// <param name="Columns">Cells per row.</param>
/// <param name="Cell">Pixels per cell side.</param>
/// <param name="MaxRegions">Regions of the largest map (0 when no run has one).</param>
internal readonly record struct MapLayout(int Columns, int Cell, long MaxRegions)
{
    /// <summary>The layout for the largest map among <paramref name="runs"/>.</summary>
    public static MapLayout For(IReadOnlyList<ReportRun> runs)
    {
        long regions = runs.Select(r => (long)(r.Map?.Regions.Length ?? 0)).DefaultIfEmpty(0).Max();
        int columns = 1;
        while ((long)columns * columns / 2 < regions)
        {
            columns *= 2;
        }

        return new MapLayout(columns, Math.Clamp(512 / columns, 1, 16), regions);
    }

    /// <summary>Rows a map of <paramref name="regions"/> takes.</summary>
    public int Rows(int regions) => (regions + Columns - 1) / Columns;

    /// <summary>", host memory up to X, each row Y" for the page's summary line, or nothing without maps.</summary>
    public string Describe()
        => MaxRegions == 0 ? string.Empty
            : $"; host memory maps of up to {Bytes(MaxRegions << 21)} ({MaxRegions.ToString("N0", CultureInfo.InvariantCulture)} cells), one row = {Bytes((long)Columns << 21)}";

    /// <summary>A byte count in binary units (2 MiB, 1.5 GiB).</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return value.ToString(value == Math.Floor(value) ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
