using System.Text.Json;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>How replay and compare report agreement with the trace: stuck accesses, nothing compared, the trace column, disagreements.</summary>
public sealed class ReplayFidelityReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-fidelity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    /// <summary>One private fault and nothing after it: the trace shows no decision to compare.</summary>
    private string OneUnresolvedFault()
    {
        string path = PathOf("one.txt");
        File.WriteAllText(path, "# tracer: nop\n       CPU 0/KVM-7001    [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n");
        return path;
    }

    [Fact]
    public void Nothing_compared_reads_n_a_in_the_table_null_in_json_and_n_a_in_html()
    {
        var (exit, output, err) = CliRunner.Run("replay", OneUnresolvedFault(), "--host-size", "4G", "--json", PathOf("one.json"), "--html", PathOf("one.html"));
        Assert.True(exit == 0, err);
        string row = output.Split('\n').Single(l => l.Contains("agreement with the trace", StringComparison.Ordinal));
        Assert.Contains("n/a", row, StringComparison.Ordinal);
        Assert.DoesNotContain("%", row, StringComparison.Ordinal);
        var fidelity = Json(PathOf("one.json")).GetProperty("runs")[0].GetProperty("fidelity");
        Assert.Equal(JsonValueKind.Null, fidelity.GetProperty("agreement_rate").ValueKind);
        Assert.Equal(0, fidelity.GetProperty("exits_compared").GetInt64());
        Assert.Contains("agrees with the trace on n/a of decisions", File.ReadAllText(PathOf("one.html")), StringComparison.Ordinal);
    }

    [Fact]
    public void Stuck_accesses_under_1g_folios_are_compared_and_not_agreed()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 400, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("compare", trace, "--policies", "first-use", "--folio", "1g", "--host-size", "64G", "--json", PathOf("g.json"));
        Assert.True(exit == 0, err);
        var run = Json(PathOf("g.json")).GetProperty("runs")[0];
        long stuck = run.GetProperty("counters").GetProperty("stuck_accesses").GetInt64();
        var f = run.GetProperty("fidelity");
        Assert.True(stuck > 0);
        Assert.Equal(stuck, f.GetProperty("stuck_compared").GetInt64());

        // every traced fault is compared (the fixture traces an outcome for each), stuck ones included
        Assert.Equal(written.Faults, f.GetProperty("exits_compared").GetInt64());
        Assert.Equal(written.Faults - written.SharedConversions, f.GetProperty("levels_compared").GetInt64());
        Assert.True(f.GetProperty("exits_agreed").GetInt64() <= written.Faults - stuck);
        Assert.Contains("stuck accesses (compared, not agreed)", output, StringComparison.Ordinal);
    }
}
