using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using FastRmp.Interop.Tracing;

namespace FastRmp.Benchmarks;

/// <summary>
/// Whole processes on the same trace.dat (900 000 KVM records, v7, uncompressed; 60 000 records in a dry run):
/// <c>trace-cmd report -R</c> (the baseline; every field of every record as text) against <c>fastrmp info</c> (every
/// record decoded, counted and summarised), both through <c>/bin/sh</c> with output to /dev/null, and FastRmp's
/// in-process decode of every field. One operation = one pass over the file. Needs trace-cmd on PATH (skipped
/// without it) and the built <c>fastrmp</c> (artifacts/bin/FastRmp.Cli).
/// </summary>
[BenchmarkCategory(Category)]
[AllocationBudget(1 << 20, Reason = "process start-up and a pass over the file, per whole file")]
public class TracingWholeProcessBenchmarks
{
    /// <summary>Category of benchmarks that need trace-cmd (filtered out when it is not installed).</summary>
    public const string Category = "WholeProcess";

    private string _dir = "";
    private string _dat = "";
    private string _fastrmp = "";

    /// <summary>True when <c>trace-cmd</c> is on PATH.</summary>
    public static bool TraceCmdAvailable { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "trace-cmd")));

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("fastrmp-bench-").FullName;
        _dat = Path.Combine(_dir, "kvm.dat");
        TracingFixtures.WriteDat(_dat, "none", BenchConfig.Dry ? 20_000 : 300_000);
        _fastrmp = LocateFastrmp();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark(Baseline = true, Description = "trace-cmd report -R (process)")]
    public int TraceCmdReport() => Shell("trace-cmd report -R \"$1\" > /dev/null", _dat);

    [Benchmark(Description = "fastrmp info (process)")]
    public int FastrmpInfo() => Shell("\"$2\" info \"$1\" > /dev/null", _dat, _fastrmp);

    [Benchmark(Description = "FastRmp decode every field (in process)")]
    [AllocationBudget(1 << 20, Reason = "per-open buffers (about 390 KB), per whole file")]
    public ulong InProcessDecode()
    {
        ulong sum = 0;
        using var reader = TraceFile.OpenReader(_dat);
        while (reader.MoveNext(out var r))
        {
            foreach (var f in r.Format.EventFields)
            {
                sum += f.IsNumber ? r.GetUInt64(f) : (ulong)r.GetData(f).Length;
            }
        }

        return sum;
    }

    private static int Shell(string script, params string[] arguments)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (string a in (string[])["-c", script, "sh", .. arguments])
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} ran for more than 5 minutes");
        }

        return process.ExitCode == 0 ? 0 : throw new InvalidOperationException($"'{script}' exited with {process.ExitCode}");
    }

    /// <summary>The apphost of the built Cli: artifacts/bin/FastRmp.Cli/release/fastrmp, found from this assembly upwards.</summary>
    private static string LocateFastrmp()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(dir.FullName, "FastRmp.Cli", "release", "fastrmp"), Path.Combine(dir.FullName, "artifacts", "bin", "FastRmp.Cli", "release", "fastrmp") })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException("the built fastrmp (artifacts/bin/FastRmp.Cli/release/fastrmp) was not found; build the solution in Release first.");
    }
}
