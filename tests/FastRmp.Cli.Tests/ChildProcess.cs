using System.Diagnostics;

namespace FastRmp.Cli.Tests;

/// <summary>Runs a program to its end for a test: its standard output, after asserting it exited 0.</summary>
internal static class ChildProcess
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> (and <paramref name="environment"/> added); killed when <paramref name="ct"/> fires.</summary>
    public static string Run(string file, IEnumerable<string> args, CancellationToken ct, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var p = Process.Start(info)!;
        using var kill = ct.Register(() => p.Kill(entireProcessTree: true));
        var stderr = p.StandardError.ReadToEndAsync(ct);
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        ct.ThrowIfCancellationRequested();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', info.ArgumentList)} exited {p.ExitCode}: {stdout} {stderr.Result}");
        return stdout;
    }
}
