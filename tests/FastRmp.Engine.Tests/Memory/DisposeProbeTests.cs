using System.Diagnostics;
using FastRmp.DisposeProbe;
using FastRmp.Engine.Memory;

namespace FastRmp.Engine.Tests.Memory;

/// <summary>
/// Issue 13 ("one house"): a disposed native owner must neither crash nor touch freed memory. Each type of the
/// probe's table (tests/DisposeProbe, linked here) is disposed twice in a child process and then called; the child
/// exits 0 only when every call threw <see cref="ObjectDisposedException"/>. A double free or a use after free kills
/// the child with a signal (exit 134 or 139), which fails the one case instead of the whole test run.
/// </summary>
public sealed class DisposeProbeTests
{
    // Public disposable engine types the probe leaves out on purpose, each with the reason.
    private static readonly Dictionary<string, string> s_excluded = [];

    /// <summary>The probe's table, by type name.</summary>
    public static TheoryData<string> ProbedTypes => [.. ProbeTable.Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(ProbedTypes))]
    public void Disposed_twice_then_called_throws_ObjectDisposedException(string type)
    {
        var (exitCode, output) = RunProbe(type);
        string signal = exitCode > 128 ? $" (killed by signal {exitCode - 128})" : "";
        Assert.True(exitCode == 0, $"DisposeProbe {type} exited {exitCode}{signal}:\n{output}");
    }

    [Fact]
    public void Every_public_disposable_engine_type_is_probed_or_excluded()
    {
        var disposable = typeof(NativeBuffer).Assembly.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsAbstract && typeof(IDisposable).IsAssignableFrom(t))
            .Select(t => t.FullName!)
            .ToHashSet();
        var probed = ProbeTable.Cases.Select(c => c.Name).ToHashSet();
        var missing = disposable.Where(t => !probed.Contains(t) && !s_excluded.ContainsKey(t)).Order();
        Assert.True(!missing.Any(), $"Disposable engine types neither in the probe's table nor excluded: {string.Join(", ", missing)}");
        var stale = s_excluded.Keys.Where(t => !disposable.Contains(t) || probed.Contains(t)).Order();
        Assert.True(!stale.Any(), $"Exclusions that are not public disposable engine types, or are probed after all: {string.Join(", ", stale)}");
    }

    [Fact]
    public void The_built_probe_lists_the_linked_table()
    {
        var (exitCode, output) = RunProbe("--list");
        Assert.Equal(0, exitCode);
        Assert.Equal(ProbeTable.Cases.Select(c => c.Name), output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    // Runs the probe next to this assembly's output: artifacts/bin/DisposeProbe/<config>/DisposeProbe.dll (the test
    // project references the probe without its assembly, so building the tests builds the probe).
    private static (int ExitCode, string Output) RunProbe(string argument)
    {
        string testOutput = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string dll = Path.GetFullPath(Path.Combine(testOutput, "..", "..", "DisposeProbe", Path.GetFileName(testOutput), "DisposeProbe.dll"));
        Assert.True(File.Exists(dll), $"{dll} was not built (FastRmp.Engine.Tests references tests/DisposeProbe).");
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(argument);
        info.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"DisposeProbe {argument} did not finish in a minute.");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
