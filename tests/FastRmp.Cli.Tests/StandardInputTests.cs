using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>
/// Every input a user pipes in (issue 15): the built fastrmp reading a trace from standard input (<c>-</c>, and
/// <c>/dev/stdin</c>) through a real pipe, and compressed files, prints what the same trace read by path prints.
/// </summary>
[Collection(HeavyProcesses.Name)]
public sealed partial class StandardInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-stdin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> Commands() => new()
    {
        { "info", "-" }, { "info", "/dev/stdin" }, { "events", "-" }, { "replay", "-" }, { "replay", "/dev/stdin" }, { "compare", "-" },
    };

    [Theory(Timeout = 300_000)]
    [MemberData(nameof(Commands))]
    public void A_trace_dat_piped_in_prints_what_the_file_prints(string command, string stdinName)
    {
        var ct = TestContext.Current.CancellationToken;
        string trace = Path.Combine(_dir, "snp.dat");
        SnpTraceFixture.Write(trace, faults: 600);
        string[] options = Options(command);
        var byPath = Run([command, trace, .. options], null, ct);
        Assert.True(byPath.Exit == 0, byPath.Err);
        var piped = Run([command, stdinName, .. options], File.ReadAllBytes(trace), ct);
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Equal(Normalize(byPath.Out, trace), Normalize(piped.Out, stdinName == "-" ? "<stdin>" : stdinName));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"fastrmp-spool-{piped.Pid}-*"));
    }

    [Theory(Timeout = 300_000)]
    [InlineData("kvm-long-pipe.data")]
    [InlineData("kvm-long.data")]
    [InlineData("kvm-long-zstd.data")]
    public void A_perf_data_piped_in_prints_what_the_file_prints(string name)
    {
        // Pipe mode streams (perf record -o - | fastrmp info -); file mode is spooled like a trace.dat.
        var ct = TestContext.Current.CancellationToken;
        string trace = Path.Combine(Repository.Root(), "tests", "FastRmp.Interop.Tests", "Tracing", "Perf", "fixtures", name);
        var byPath = Run(["info", trace], null, ct);
        Assert.True(byPath.Exit == 0, byPath.Err);
        var piped = Run(["info", "-"], File.ReadAllBytes(trace), ct);
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Equal(Normalize(byPath.Out, trace), Normalize(piped.Out, "<stdin>"));
        Assert.Contains("records:     134", piped.Out, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"fastrmp-spool-{piped.Pid}-*"));
    }

    [Theory(Timeout = 300_000)]
    [InlineData("gz")]
    [InlineData("zst")]
    public void A_compressed_trace_dat_by_path_and_piped_prints_what_the_plain_file_prints(string extension)
    {
        var ct = TestContext.Current.CancellationToken;
        string trace = Path.Combine(_dir, "snp.dat");
        SnpTraceFixture.Write(trace, faults: 600);
        byte[] packed = Compress(extension, File.ReadAllBytes(trace));
        string packedPath = Path.Combine(_dir, "snp.dat." + extension);
        File.WriteAllBytes(packedPath, packed);
        string[] args = ["--policy", "first-use", "--host-size", "64G"];
        var plain = Run(["replay", trace, .. args], null, ct);
        Assert.True(plain.Exit == 0, plain.Err);
        var byPath = Run(["replay", packedPath, .. args], null, ct);
        Assert.True(byPath.Exit == 0, byPath.Err);
        Assert.Equal(Normalize(plain.Out, trace), Normalize(byPath.Out, packedPath));
        var piped = Run(["replay", "-", .. args], packed, ct);
        Assert.True(piped.Exit == 0, piped.Err);
        Assert.Equal(Normalize(plain.Out, trace), Normalize(piped.Out, "<stdin>"));
    }

    [Fact(Timeout = 120_000)]
    public void Garbage_on_standard_input_is_one_error_line_and_exit_1()
    {
        var ct = TestContext.Current.CancellationToken;
        var r = Run(["replay", "-"], "hello\nworld\n"u8.ToArray(), ct);
        Assert.Equal(1, r.Exit);
        Assert.Equal("fastrmp: <stdin>: not a trace.dat, tracefs trace, trace-cmd report or perf script text (no event line in the first 2 lines)", r.Err.Trim());
        r = Run(["info", "-"], [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3], ct);
        Assert.Equal(1, r.Exit);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.StartsWith("fastrmp: <stdin>: the gzip data", r.Err, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public void A_terminal_on_standard_input_is_refused_at_once_not_waited_on()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/script"))
        {
            Assert.Skip("needs util-linux script for a pseudo-terminal");
        }

        var ct = TestContext.Current.CancellationToken;
        var start = FastrmpProcess.StartInfo(["info", "-"]);
        string command = string.Join(' ', new[] { start.FileName }.Concat(start.ArgumentList).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        var info = new ProcessStartInfo("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(info)!;
        using var kill = ct.Register(() => p.Kill(entireProcessTree: true));
        string terminal = p.StandardOutput.ReadToEnd(); // the pseudo-terminal's output: fastrmp's stdout and stderr
        p.WaitForExit();
        ct.ThrowIfCancellationRequested();
        Assert.Equal(1, p.ExitCode);
        Assert.Contains("-: standard input is a terminal", terminal, StringComparison.Ordinal);
    }

    private static string[] Options(string command) => command switch
    {
        "replay" => ["--policy", "first-use", "--host-size", "64G"],
        "compare" => ["--policies", "first-use,fault-hook", "--host-size", "64G"],
        "events" => ["--format", "jsonl"],
        _ => [],
    };

    /// <summary>The output with the input's name and the timings (which differ from run to run) taken out.</summary>
    private static string Normalize(string output, string name) =>
        Timing().Replace(output.Replace(name, "TRACE", StringComparison.Ordinal).Replace(Path.GetFileName(name), "TRACE", StringComparison.Ordinal), "T");

    [GeneratedRegex(@"[0-9.]+ s \([0-9.]+ M records/s\)|[0-9.]+ M/s|""seconds"": [0-9.eE+-]+|replay_seconds[^,]*")]
    private static partial Regex Timing();

    private static byte[] Compress(string extension, byte[] data)
    {
        var output = new MemoryStream();
        using (Stream c = extension == "gz" ? new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true) : new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
        {
            c.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Runs the built fastrmp with <paramref name="stdin"/> written to its standard input through a pipe (null: none, closed).</summary>
    private static (int Exit, string Out, string Err, int Pid) Run(string[] args, byte[]? stdin, CancellationToken ct)
    {
        var info = FastrmpProcess.StartInfo(args);
        info.RedirectStandardInput = true;
        using var p = Process.Start(info)!;
        using var kill = ct.Register(() => p.Kill(entireProcessTree: true));
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            if (stdin is not null)
            {
                p.StandardInput.BaseStream.Write(stdin);
            }

            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // the process stopped reading (a refused input): its exit and stderr say why
        }

        p.WaitForExit();
        ct.ThrowIfCancellationRequested();
        return (p.ExitCode, stdout.Result, stderr.Result, p.Id);
    }
}
