using System.Text.Json;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// Replay of <c>trace-cmd report</c> text without <c>-R</c> (issue 15): the default pretty print and <c>-t</c> give the
/// counters and agreement the trace.dat they were printed from gives; exits, memslots and launch updates do not
/// vanish. trace-cmd is the printer (the test skips without it).
/// </summary>
public sealed class ReportTextReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-report-text-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory(Timeout = 300_000)]
    [InlineData("")]
    [InlineData("-t")]
    [InlineData("-R")]
    public void Replay_of_report_text_counts_what_the_trace_dat_counts(string option)
    {
        var ct = TestContext.Current.CancellationToken;
        string traceCmd = Samples.TraceCmd ?? Skip();
        string dat = Path.Combine(_dir, "snp.dat");
        var written = SnpTraceFixture.Write(dat, faults: 1500, sharedEvery: 15);
        string text = Path.Combine(_dir, "snp.txt");
        File.WriteAllText(text, ChildProcess.Run(traceCmd, option.Length > 0 ? ["report", option, dat] : ["report", dat], ct));

        var fromDat = Replay(dat, "dat.json");
        var fromText = Replay(text, "text.json");
        Assert.Equal(written.SharedConversions, fromDat.GetProperty("counters").GetProperty("memory_fault_exits").GetInt64());
        Assert.Equal(fromDat.GetProperty("counters").ToString(), fromText.GetProperty("counters").ToString());
        Assert.Equal(fromDat.GetProperty("fidelity").ToString(), fromText.GetProperty("fidelity").ToString());
        Assert.Equal("trace", fromText.GetProperty("memslot_source").GetString());
    }

    private JsonElement Replay(string trace, string json)
    {
        var (exit, _, err) = CliRunner.Run("replay", trace, "--policy", "first-use", "--host-size", "64G", "--json", Path.Combine(_dir, json));
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, json)));
        return doc.RootElement.GetProperty("runs")[0].Clone();
    }

    private static string Skip()
    {
        Assert.Skip("trace-cmd is not installed (apt-get install trace-cmd): it prints the report text");
        return "";
    }
}
