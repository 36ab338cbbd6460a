using System.Text.RegularExpressions;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The progress bar of a long replay (issue 6): shown on a terminal for inputs of 64 MiB or more, with the events
/// replayed, their rate, a percentage and the time left; never in redirected output. The built fastrmp runs in a
/// pseudo-terminal made by util-linux <c>script</c>.
/// </summary>
public sealed partial class ReplayProgressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-progress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 300_000)]
    public void A_long_replay_on_a_terminal_shows_events_rate_and_percentage_and_redirected_output_has_no_bar()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/script"))
        {
            Assert.Skip("needs util-linux script for a pseudo-terminal");
        }

        var ct = TestContext.Current.CancellationToken;
        string trace = Path.Combine(_dir, "long.dat");
        var written = SnpTraceFixture.Write(trace, faults: 380_000, sharedEvery: 0);
        Assert.True(new FileInfo(trace).Length >= 64L << 20, $"the trace is {new FileInfo(trace).Length} bytes, under the bar's 64 MiB");

        // the command line of the built fastrmp, quoted for script's shell
        var start = FastrmpProcess.StartInfo(["replay", trace, "--policy", "first-use", "--host-size", "64G"]);
        string command = string.Join(' ', new[] { start.FileName }.Concat(start.ArgumentList).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        string terminal = RunInTerminal(command, ct);

        // the bar's description: "replay N events (R M/s)", with N growing to the records read
        var counts = EventsRegex().Matches(terminal).Select(m => long.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(counts.Length >= 1, $"no progress description in the terminal output: {terminal[..Math.Min(2000, terminal.Length)]}");
        Assert.True(counts.All(c => c > 0 && c <= written.Records), string.Join(", ", counts));
        Assert.Matches(@"\d+%", terminal);
        Assert.Contains($"{written.Records:N0} records", terminal, StringComparison.Ordinal);

        // redirected: the same replay prints its summary and no bar
        var (exit, output, err) = CliRunner.Run("replay", trace, "--policy", "first-use", "--host-size", "64G");
        Assert.True(exit == 0, err);
        Assert.DoesNotMatch(EventsRegex(), output + err);
        Assert.Contains($"{written.Records:N0} records", output, StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="command"/> in a pseudo-terminal of 160 columns; what the terminal showed.</summary>
    private static string RunInTerminal(string command, CancellationToken ct)
        => ChildProcess.Run("/usr/bin/script", ["-q", "-f", "-e", "-c", command, "/dev/null"], ct, new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["COLUMNS"] = "160" });

    [GeneratedRegex(@"replay ([0-9,]+) events \([0-9.]+ M/s\)")]
    private static partial Regex EventsRegex();
}
