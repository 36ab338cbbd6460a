using System.Diagnostics;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>Finds ../shared/samples (relative to the repository root) and trace-cmd; skips tests clearly when absent.</summary>
internal static class Samples
{
    private static readonly Lazy<string?> s_root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastRmp.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            return null;
        }

        string samples = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "samples"));
        return Directory.Exists(samples) ? samples : null;
    });

    private static readonly Lazy<string?> s_traceCmd = new(() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, "trace-cmd")).FirstOrDefault(File.Exists));

    /// <summary>The samples folder, or skips the test.</summary>
    public static string Dir => s_root.Value ?? SkipMissing();

    public static string? TraceCmd => s_traceCmd.Value;

    /// <summary>The samples folder or null (for theory data, which must not skip).</summary>
    public static string? TryDir => s_root.Value;

    public static string Path_(string relative) => Path.Combine(Dir, relative);

    /// <summary>
    /// Theory data: the samples matching each <c>folder/pattern</c>, as paths relative to the samples folder, in
    /// ordinal order; one placeholder row when the folder is absent (the test then skips through <see cref="Path_"/>).
    /// </summary>
    public static TheoryData<string> Theory(params string[] globs)
    {
        var data = new TheoryData<string>();
        if (TryDir is not { } dir)
        {
            data.Add("(no ../shared/samples)");
            return data;
        }

        foreach (var file in globs.SelectMany(g => Directory.EnumerateFiles(Path.Combine(dir, Path.GetDirectoryName(g)!), Path.GetFileName(g))).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(dir, file));
        }

        return data;
    }

    public static IEnumerable<string> DatFiles() =>
        Directory.EnumerateFiles(Path.Combine(Dir, "tracecmd-dat"), "*.dat")
            .Concat(Directory.EnumerateFiles(Path.Combine(Dir, "tracecmd-dat-public"), "*.dat"))
            .Order(StringComparer.Ordinal);

    public static string RequireTraceCmd() => TraceCmd ?? SkipNoTraceCmd();

    public static string Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit(120_000);
        _ = err.Result;
        return output;
    }

    private static string SkipMissing()
    {
        Assert.Skip("../shared/samples is not present next to the repository; sample-based tests skipped");
        return "";
    }

    private static string SkipNoTraceCmd()
    {
        Assert.Skip("trace-cmd is not on PATH; the comparison with 'trace-cmd report -t -R' was skipped (install it: apt-get install -y trace-cmd)");
        return "";
    }
}
