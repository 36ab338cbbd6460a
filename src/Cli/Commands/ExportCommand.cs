using System.CommandLine;
using System.Globalization;
using FastRmp.Cli.Options;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Replay;
using FastRmp.Export.Parquet;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Uapi;

namespace FastRmp.Cli.Commands;

/// <summary>
/// <c>fastrmp export TRACE... --parquet DIR [--replay]</c>: every record as a Hive-partitioned Parquet dataset (one
/// table per event type, a host partition per trace), and with <c>--replay</c> the replay's <c>decisions</c> and
/// <c>runs</c> tables, all in one pass over each trace (docs/export.md).
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var traces = new Argument<string[]>("TRACE")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "One or more host traces, each its own host partition (named after the file, up to its first '.'): trace.dat (v6/v7), tracefs trace text, trace-cmd report, perf script output or perf.data; '-' reads standard input; gzip, xz and zstd files are decompressed.",
        };
        var parquet = new Option<string>("--parquet") { HelpName = "DIR", Description = "The dataset's directory (created when missing; a host already in it is refused).", Required = true };
        var host = new Option<string?>("--host") { HelpName = "NAME", Description = "The host partition's name (one trace only; default: the file name up to its first '.')." };
        var replay = new Option<bool>("--replay") { Description = "Also replay each trace (as 'fastrmp compare' does: every policy, or --policies) and write the decisions and runs tables." };
        var policies = CliOptions.Policies();
        var kernels = CliOptions.Kernels();
        var vmType = CliOptions.VmType(tdx: true);
        var folio = CliOptions.ReplayFolio();
        var fallback = CliOptions.Folio("With --folio auto, the folio size where the trace shows no private 2M leaf.", name: "--folio-fallback");
        var rowGroup = new Option<int>("--row-group-rows")
        {
            HelpName = "N",
            Description = "Rows per Parquet row group (default 65536; smaller groups read slower).",
            DefaultValueFactory = _ => ParquetDataset.DefaultRowGroupRows,
        };
        rowGroup.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 1 << 24)
            {
                r.AddError("--row-group-rows: give a number of rows from 1 to 16777216.");
            }
        });
        var command = new Command("export", "Write a trace's records (and with --replay the model's decisions) as a Hive-partitioned Parquet dataset for DuckDB, Spark or Trino.")
        {
            traces, parquet, host, replay, policies, kernels, vmType, folio, fallback, rowGroup,
        };
        command.SetAction(parse =>
        {
            string[] paths = parse.GetValue(traces)!;
            string dir = parse.GetValue(parquet)!;
            string? name = parse.GetValue(host);
            if (name is not null && paths.Length > 1)
            {
                throw new CliUsageException($"--host names the host of one trace; with {paths.Length} traces each host is named after its file.");
            }

            if (paths.Count(p => p == TraceCommandHelpers.StandardInput) > 1)
            {
                throw new CliUsageException("standard input ('-') can be read once.");
            }

            var hosts = paths.Select(p => name ?? HostName(p)).ToArray();
            if (hosts.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            {
                throw new CliUsageException($"two traces make host '{twice.Key}' (hosts are named after the file up to its first '.'); rename one, or export them one at a time with --host.");
            }

            RefuseInputAsOutput(paths, dir);
            ReplayOptions? options = null;
            string[] names = [];
            KvmKernel[]? kernelList = null;
            if (!parse.GetValue(replay) && new Option[] { policies, kernels, vmType, folio, fallback }.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } stray)
            {
                throw new CliUsageException($"{stray.Name} sets up the replay; add --replay.");
            }

            if (parse.GetValue(replay))
            {
                var type = parse.GetValue(vmType).Type;
                bool tdx = type == KvmVmType.Tdx;
                if (parse.GetValue(policies)?.FirstOrDefault(p => Engine.Tdx.TdxDesigns.Names.Contains(p) != tdx) is { } wrong)
                {
                    throw new CliUsageException(tdx
                        ? $"'{wrong}' is not a TDX design; with --vm-type tdx use {string.Join(" or ", Engine.Tdx.TdxDesigns.Names)}."
                        : $"'{wrong}' is a TDX design: add --vm-type tdx.");
                }

                var f = CliOptions.ReplayFolioSize(parse.GetValue(folio));
                options = new ReplayOptions(f?.Order ?? parse.GetValue(fallback)!.Value.Order, 1UL << 40, type, FolioAuto: f is null);
                names = parse.GetValue(policies) is { Length: > 0 } named ? named : type == KvmVmType.Tdx ? [.. Engine.Tdx.TdxDesigns.Names] : [.. PolicyCatalog.Names];
                kernelList = parse.GetValue(kernels) is { Length: > 0 } k ? k : null;
            }

            return Run(paths, hosts, dir, parse.GetValue(rowGroup), options, names, kernelList, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>The host partition of a trace: its file name up to the first '.' (<c>hosts/a1.dat.zst</c> is <c>a1</c>); <c>stdin</c> for '-'.</summary>
    internal static string HostName(string path)
    {
        if (path == TraceCommandHelpers.StandardInput)
        {
            return "stdin";
        }

        string file = Path.GetFileName(path);
        int dot = file.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 ? file[..dot] : file;
    }

    internal static int Run(string[] paths, string[] hosts, string dir, int rowGroupRows, ReplayOptions? replay, IReadOnlyList<string> policies, IReadOnlyList<KvmKernel>? kernels, TextWriter stdout, TextWriter stderr)
    {
        int exit = ExitCodes.Ok;
        if (paths.FirstOrDefault(p => p != TraceCommandHelpers.StandardInput && !File.Exists(p)) is { } missing)
        {
            throw new CliInputException(Directory.Exists(missing) ? $"{missing}: is a directory, not a trace file" : $"{missing}: no such file"); // before the dataset's directory is made
        }

        using var dataset = OpenDataset(dir, rowGroupRows);
        for (int i = 0; i < paths.Length; i++)
        {
            string path = paths[i];
            using var reader = TraceCommandHelpers.Open(path);
            var exporting = Claim(() => dataset.Exporting(reader, hosts[i], path == TraceCommandHelpers.StandardInput ? "-" : Path.GetFileName(path)));
            EventExportSummary summary;
            long decisions = 0;
            if (replay is null)
            {
                summary = Drain(exporting);
            }
            else
            {
                using var replayer = new Replayer(exporting, replay, policies, kernels);
                var decisionWriter = Claim(() => dataset.RecordDecisions(replayer, hosts[i], Path.GetFileName(path)));
                replayer.Run();
                decisionWriter.WriteRuns(replayer.Results(Path.GetFileName(path)));
                decisions = decisionWriter.Decisions;
                summary = exporting.Finish();
                if (summary.Error is null && replayer.Error is { } replayError)
                {
                    summary = summary with { Error = replayError };
                }
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: host {hosts[i]}: {summary.Records} records in {summary.Events.Count} event tables{(replay is null ? "" : $", {decisions} decisions")}"));
            if (summary.ShortRecords > 0)
            {
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fastrmp: {path}: {summary.ShortRecords} records shorter than their format; their missing fields are written as 0"));
            }

            if (summary.Error is { } error)
            {
                stderr.WriteLine($"fastrmp: {error.Message} (the export stopped there; the dataset holds the records before it)");
                exit = ExitCodes.InputError;
                break;
            }
        }

        try
        {
            dataset.Complete();
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new CliInputException($"{dir}: cannot write the dataset ({ex.Message})");
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dataset: {dataset.Root} (Parquet encoding and writing: {dataset.WriteTime.TotalSeconds:F2} s over the writer threads)"));
        return exit;
    }

    private static EventExportSummary Drain(ExportingTraceReader exporting)
    {
        try
        {
            while (exporting.MoveNext(out _))
            {
            }
        }
        catch (TraceFormatException)
        {
            // Finish() reports it: the records before the damage are exported
        }

        return exporting.Finish();
    }

    private static ParquetDataset OpenDataset(string dir, int rowGroupRows)
    {
        if (File.Exists(dir))
        {
            throw new CliInputException($"--parquet {dir}: is a file; give a directory for the dataset");
        }

        try
        {
            return new ParquetDataset(dir, rowGroupRows);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--parquet {dir}: cannot create the dataset's directory ({ex.Message})");
        }
    }

    private static T Claim<T>(Func<T> claim)
    {
        try
        {
            return claim();
        }
        catch (InvalidOperationException ex)
        {
            throw new CliInputException(ex.Message);
        }
    }

    /// <summary>A dataset directory that is a trace, or holds one of the traces, could overwrite or re-read what is being exported: refused.</summary>
    internal static void RefuseInputAsOutput(IEnumerable<string> traces, string dir)
    {
        string output = Resolve(dir);
        foreach (string trace in traces)
        {
            if (trace == TraceCommandHelpers.StandardInput || !File.Exists(trace))
            {
                continue;
            }

            string input = Resolve(trace);
            if (string.Equals(input, output, StringComparison.Ordinal) || input.StartsWith(output.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                throw new CliInputException($"--parquet {dir}: the trace {trace} is in it; write the dataset to another directory");
            }
        }
    }

    internal static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (info.Exists && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
        {
            return target.FullName;
        }

        var d = new DirectoryInfo(full);
        return d.Exists && d.ResolveLinkTarget(returnFinalTarget: true) is { } dt ? dt.FullName : full;
    }
}
