using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>The replay's tables at the width they are given (COLUMNS for output that is not a terminal).</summary>
[Collection(HeavyProcesses.Name)]
public sealed class ReplayNarrowTerminalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-narrow-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Compare(string trace, int columns)
    {
        var start = FastrmpProcess.StartInfo(["compare", trace, "--policies", "first-use,alloc-blind,fault-hook", "--folio", "2m", "--host-size", "64G"]);
        return ChildProcess.Run(start.FileName, start.ArgumentList, TestContext.Current.CancellationToken, new Dictionary<string, string> { ["COLUMNS"] = columns.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    [Fact]
    public void At_80_columns_every_line_fits_one_block_per_policy_and_no_type_name_is_printed()
    {
        string trace = Path.Combine(_dir, "snp.dat");
        SnpTraceFixture.Write(trace, faults: 400, sharedEvery: 20);
        string narrow = Compare(trace, 80);
        string[] lines = narrow.Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));

        // three policies with a trace column do not fit in 80 columns: a block each, each with the trace beside it
        string[] headers = [.. lines.Where(l => l.Contains("│ counter", StringComparison.Ordinal))];
        Assert.Equal(3, headers.Length);
        Assert.All(headers, h => Assert.Contains("│ trace │", h, StringComparison.Ordinal));

        // alloc-blind gets stuck on this trace; its reason names the leaf and the RMP entry in words
        Assert.Contains("did not settle", narrow, StringComparison.Ordinal);
        Assert.DoesNotContain("NptLeaf", narrow, StringComparison.Ordinal);
        Assert.DoesNotContain("FastRmp.", narrow, StringComparison.Ordinal);
        Assert.DoesNotContain("rmpentry_raw", narrow, StringComparison.Ordinal);

        // wide enough: one table with the trace and the three policies side by side
        string wide = Compare(trace, 200);
        Assert.Single(wide.Split('\n'), l => l.Contains("│ counter", StringComparison.Ordinal) && l.Contains("first-use", StringComparison.Ordinal) && l.Contains("fault-hook", StringComparison.Ordinal));
    }
}
