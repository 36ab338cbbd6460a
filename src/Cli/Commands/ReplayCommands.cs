using System.CommandLine;
using System.Globalization;
using FastRmp.Cli.Options;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Uapi;
using Spectre.Console;

namespace FastRmp.Cli.Commands;

/// <summary>
/// <c>fastrmp replay TRACE</c> (one policy) and <c>fastrmp compare TRACE --policies ...</c> (several policies, one
/// pass over the trace): the trace's guest accesses, memslots and conversions through the model, with the model's
/// counters and its agreement with the traced kernel.
/// </summary>
internal static class ReplayCommands
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;
    private const int MaxSlotsShown = 8;
    private const int FirstShown = 5;

    /// <summary>The counters the replay tables show, in row order (titles from the catalog).</summary>
    internal static IReadOnlyList<CounterInfo> Shown { get; } =
    [
        CounterCatalog.FaultsPrivate, CounterCatalog.FaultsShared, CounterCatalog.MemoryFaultExits,
        CounterCatalog.RmpUpdate4K, CounterCatalog.RmpUpdate2M, CounterCatalog.Psmash, CounterCatalog.RmpLookups,
        CounterCatalog.RmpNpf, CounterCatalog.Zapped, CounterCatalog.Npt4K, CounterCatalog.Npt2M, CounterCatalog.Npt1G,
        CounterCatalog.Rmp2MEntries, CounterCatalog.Rmp4KEntries, CounterCatalog.PfnsFromTrace,
        CounterCatalog.InferredConversions, CounterCatalog.InferredValidations,
    ];

    /// <summary><c>fastrmp replay</c>.</summary>
    public static Command CreateReplay()
    {
        var policy = CliOptions.Policy(tdx: true);
        var export = new Option<FileInfo?>("--export-trace") { HelpName = "FILE", Description = "Write the model's run as a trace.dat (v7, zstd) to open next to the real one in KernelShark." };
        var command = new Command("replay", "Replay a host trace (trace.dat, ftrace text, perf script) through the model under one policy: counters and agreement with the traced kernel.");
        var shared = new SharedOptions(command);
        command.Options.Add(policy);
        command.Options.Add(export);
        command.Validators.Add(result => CheckDesigns(result, shared, CliOptions.TryGetValue(result, policy, out var p) && result.GetResult(policy) is { Implicit: false } ? [p!] : []));
        command.SetAction(parse => Run(
            parse,
            shared,
            [IsTdx(parse, shared) && parse.GetResult(policy) is null or { Implicit: true } ? FastRmp.Engine.Tdx.TdxDesigns.MergedName : parse.GetValue(policy)!],
            null,
            parse.GetValue(export)));
        return command;
    }

    /// <summary><c>fastrmp compare</c>.</summary>
    public static Command CreateCompare()
    {
        var policies = CliOptions.Policies();
        var kernels = CliOptions.Kernels();
        var command = new Command("compare", "Replay a host trace under several policies (and kernels) in one pass and compare them side by side.");
        var shared = new SharedOptions(command);
        command.Options.Add(policies);
        command.Options.Add(kernels);
        command.Validators.Add(result => CheckDesigns(result, shared, CliOptions.TryGetValue(result, policies, out var named) && named is not null ? named : []));
        command.SetAction(parse => Run(
            parse,
            shared,
            parse.GetValue(policies) is { Length: > 0 } named ? named : IsTdx(parse, shared) ? [.. FastRmp.Engine.Tdx.TdxDesigns.Names] : [.. PolicyCatalog.Names],
            parse.GetValue(kernels) is { Length: > 0 } k ? k : null,
            null));
        return command;
    }

    private static bool IsTdx(ParseResult parse, SharedOptions o) => parse.GetValue(o.VmType).Type == KvmVmType.Tdx;

    /// <summary>A TDX replay takes TDX designs, any other the policies of the 2023 debate.</summary>
    private static void CheckDesigns(System.CommandLine.Parsing.CommandResult result, SharedOptions o, IReadOnlyList<string> named)
    {
        if (!CliOptions.TryGetValue(result, o.VmType, out var type))
        {
            return;
        }

        bool tdx = type.Type == KvmVmType.Tdx;
        foreach (string name in named)
        {
            bool design = FastRmp.Engine.Tdx.TdxDesigns.Names.Contains(name);
            if (tdx && !design)
            {
                result.AddError($"'{name}' is not a TDX design; with --vm-type tdx use {string.Join(" or ", FastRmp.Engine.Tdx.TdxDesigns.Names)}.");
                return;
            }

            if (!tdx && design)
            {
                result.AddError($"'{name}' is a TDX design: add --vm-type tdx.");
                return;
            }
        }
    }

    /// <summary>
    /// Replays each trace named on the command line as its own host (docs/replay.md, "Several files"): one report per
    /// file, in order. The file outputs (--json, --html, --export-trace, --disagreements) take one trace at a time.
    /// </summary>
    private static int Run(ParseResult parse, SharedOptions o, IReadOnlyList<string> policies, IReadOnlyList<KvmKernel>? kernels, FileInfo? exportFile)
    {
        string[] paths = parse.GetValue(o.Trace)!;
        if (paths.Length > 1)
        {
            string? single = parse.GetValue(o.Json) is not null ? "--json" : parse.GetValue(o.Html) is not null ? "--html"
                : exportFile is not null ? "--export-trace" : parse.GetValue(o.Disagreements) is not null ? "--disagreements"
                : parse.GetValue(o.Perfetto) is not null ? PerfettoOutput.Name : null;
            if (single is not null)
            {
                throw new CliUsageException($"{single} writes the report of one trace; with {paths.Length} traces, replay each with its own {single}.");
            }

            if (paths.Count(p => p == "-") > 1)
            {
                throw new CliUsageException("standard input ('-') can be read once.");
            }
        }

        // A several-file trace-cmd report text (report -i a.dat -i b.dat) is several hosts in one file: each file's
        // lines are replayed as its own host, as if the files had been named one by one (docs/replay.md).
        var runs = paths.SelectMany(p => TraceCommandHelpers.ReportSources(p) is { Count: > 1 } sources
            ? sources.Select((name, i) => (Path: p, Source: i, Name: name))
            : [(Path: p, Source: -1, Name: "")]).ToList();
        if (runs.Count > paths.Length && (parse.GetValue(o.Json) ?? parse.GetValue(o.Html) ?? (object?)exportFile ?? parse.GetValue(o.Disagreements) ?? parse.GetValue(o.Perfetto)) is not null)
        {
            throw new CliUsageException($"the file outputs write the report of one host; {string.Join(", ", paths)} holds {runs.Count} hosts' traces (trace-cmd report -i ... -i ...): replay one file of it with 'trace-cmd report -i FILE'.");
        }

        foreach (var (path, source, name) in runs)
        {
            int exit = RunOne(parse, o, policies, kernels, exportFile, path, source, name);
            if (exit != ExitCodes.Ok)
            {
                return exit;
            }
        }

        return ExitCodes.Ok;
    }

    private static int RunOne(ParseResult parse, SharedOptions o, IReadOnlyList<string> policies, IReadOnlyList<KvmKernel>? kernels, FileInfo? exportFile, string path, int reportFile = -1, string sourceName = "")
    {
        RefuseOutputOverInput(path, ("--json", parse.GetValue(o.Json)), ("--html", parse.GetValue(o.Html)), ("--export-trace", exportFile), ("--disagreements", parse.GetValue(o.Disagreements)), (PerfettoOutput.Name, parse.GetValue(o.Perfetto)));
        var options = o.Options(parse);
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        using var reader = TraceCommandHelpers.Open(path);
        if (reportFile >= 0)
        {
            TraceFile.SelectReportSource(reader, reportFile);
            stdout.WriteLine($"{path}: the lines of {sourceName} (file {reportFile + 1} of the trace-cmd report text), replayed as one host");
        }

        foreach (var guest in TraceFile.GuestsOf(reader))
        {
            // trace-cmd record -A: the host file names each guest's vCPU threads; the guest's own records are in its file.
            stdout.WriteLine($"{path}: guest {guest.Name} was traced with this host (trace id 0x{guest.TraceId:x}); its vCPUs run on host threads {string.Join(", ", guest.Vcpus.Select(v => $"{v.HostPid} (vCPU {v.Vcpu})"))}");
        }

        using var perfetto = parse.GetValue(o.Perfetto) is { } pftrace ? PerfettoOutput.Create(pftrace) : null;
        using var tee = perfetto?.Tee(reader);
        int threads = parse.GetValue(o.Threads) is > 0 and var n ? n : Environment.ProcessorCount;
        using var replayer = new Replayer(tee ?? reader, options, policies, kernels)
        {
            // The reading stage and the models on threads of their own, unless a Perfetto tee writes the records the
            // models also write to, or the disagreement log (one file, written in order) listens to every model.
            ReadAhead = tee is null && threads > 1,
            ModelThreads = tee is null && parse.GetValue(o.Disagreements) is null ? threads : 1,
        };
        var export = exportFile is null ? null : new TraceExport(reader.Info.CpuCount > 0 ? reader.Info.CpuCount : 64);
        replayer.Recorder = export;
        using var log = parse.GetValue(o.Disagreements) is { } logFile ? new DisagreementLog(logFile) : null;
        if (log is not null)
        {
            replayer.SessionCreated = log.Listen;
        }

        perfetto?.Attach(replayer); // after the recorder and the log's listener: it passes both on

        var started = System.Diagnostics.Stopwatch.StartNew();
        RunWithProgress(replayer, path, stderr);
        double seconds = started.Elapsed.TotalSeconds;
        var stats = replayer.Ops.Stats;
        if (stats.KvmEvents == 0 && replayer.Error is null)
        {
            throw new CliInputException($"{path}: no KVM events in {stats.Records:N0} records; record the host with 'trace-cmd record -e kvm -e kvmmmu' (and QEMU's ftrace trace backend for memslots and conversions)");
        }

        var results = replayer.Results(reportFile >= 0 ? $"{Path.GetFileName(path)}:{sourceName}" : Path.GetFileName(path)); // also adds each model's RMP-region disagreements to the log
        log?.Dispose();
        var console = Terminal.For(stdout);
        WriteSummary(console, reader, replayer, results, seconds);
        WriteJson(parse.GetValue(o.Json), reader, replayer, results, options, seconds);
        if (parse.GetValue(o.Html) is { } html)
        {
            string source = $"{path}: {stats.Records:N0} records, {stats.Faults:N0} faults; "
                + string.Join("; ", results.Select(r => $"{VmTitle(r.Vm, results)}{Label(r, results)} agrees with the trace on {Rate(r.Fidelity, "P1")} of decisions (memslots {Describe(r.Source)})"));
            var runs = results.Select(r => ReportRun.From(r.Counters) with { Label = Label(r, results), Group = $"{VmTitle(r.Vm, results)}folio {CliOptions.FolioName(r.Counters.FolioOrder)}{KernelTitle(results)}{(r.Counters.RmpOpt ? ", RMPOPT" : "")}", Notes = Notes(r), Differences = r.Fidelity.DisagreementRegions, GuestRegions = r.Fidelity.GuestRegions, Traced = r.Fidelity.Traced }).ToList();
            source += CropMaps(runs);
            ReportFile.Write(html, "--html", w => HtmlReport.Write(w, $"fastrmp {parse.CommandResult.Command.Name}: {Path.GetFileName(path)}", source, runs));
        }

        export?.Save(exportFile!, replayer.Ops.ProcessName);
        if (perfetto is not null)
        {
            perfetto.Complete();
            stdout.WriteLine($"{parse.GetValue(o.Perfetto)}: {perfetto.Records:N0} records and the run of {perfetto.Models} model(s) ({perfetto.ModelEvents:N0} events, {perfetto.CounterSamples:N0} counter values) as a Perfetto trace");
        }

        if (replayer.Error is { } error)
        {
            stderr.WriteLine($"fastrmp: {error.Message} (the replay stopped there; the results above cover the records before it)");
            return ExitCodes.InputError;
        }

        return ExitCodes.Ok;
    }

    /// <summary>
    /// An output file that is the trace itself would overwrite what is being read (issue 18, item 7): refused before
    /// anything is read or written. Compared by full path, after following symbolic links.
    /// </summary>
    internal static void RefuseOutputOverInput(string trace, params (string Option, FileInfo? File)[] outputs)
    {
        if (trace == "-" || !File.Exists(trace))
        {
            return;
        }

        string input = Resolve(trace);
        foreach (var (option, file) in outputs)
        {
            if (file is not null && string.Equals(Resolve(file.FullName), input, StringComparison.Ordinal))
            {
                throw new CliInputException($"{option} {file}: that is the trace being read; choose another file");
            }
        }

        static string Resolve(string path)
        {
            var info = new FileInfo(Path.GetFullPath(path));
            return info.Exists && info.ResolveLinkTarget(returnFinalTarget: true) is { } target ? target.FullName : info.FullName;
        }
    }

    private static void RunWithProgress(Replayer replayer, string path, TextWriter stderr)
    {
        long length = TraceCommandHelpers.LengthForProgress(path);
        bool interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && length >= 64L << 20;
        if (!interactive)
        {
            replayer.Run();
            return;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("replay", maxValue: length);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                replayer.Run(p =>
                {
                    task.Value = Math.Min(p.BytesRead, length);
                    double rate = p.Records / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
                    task.Description = $"replay {p.Records:N0} events ({rate / 1e6:F1} M/s)";
                });
                task.Value = length;
            });
    }

    private static void WriteSummary(IAnsiConsole console, ITraceReader reader, Replayer replayer, IReadOnlyList<ReplayResult> results, double seconds)
    {
        var s = replayer.Ops.Stats;
        var info = reader.Info;
        double span = (s.LastTimestamp - s.FirstTimestamp) / 1e9;
        console.Write(new Markup($"[bold]{Markup.Escape(info.Path)}[/]: {info.Kind} {Markup.Escape(info.Version)}, {s.Records:N0} records ({s.KvmEvents:N0} KVM/QEMU) over {span:F3} s of trace, replayed in {seconds:F2} s ({s.Records / Math.Max(seconds, 1e-9) / 1e6:F1} M records/s)\n"));
        console.Write(new Markup($"faults {s.Faults:N0} (+{s.RmpBitFaults:N0} with the RMP bit), mapped as traced {s.SpteRequested:N0}, memory-fault exits {s.MemoryFaultExits:N0}, kvm_rmp_fault {s.RmpFaults:N0}, memslot events {s.Memslots:N0}, conversions {s.Conversions:N0}, launch updates {s.LaunchUpdates:N0}; lost events {reader.Stats.LostEvents:N0}, damaged regions {reader.Stats.DamageCount:N0}\n"));
        if (results.Count == 0)
        {
            console.Write(new Markup("nothing to replay: no guest page faults, memslot changes, conversions or launch updates\n"));
            return;
        }

        foreach (var vm in results.GroupBy(r => r.Vm))
        {
            WriteVm(console, [.. vm], VmTitle(vm.Key, results), FirstSession(replayer, vm.Key));
        }

        foreach (string warning in Warnings(s, results))
        {
            console.Write(new Markup($"[yellow]{Markup.Escape(warning)}[/]\n"));
        }
    }

    /// <summary>What the numbers above do not mean, when the trace says so (also in the JSON's <c>warnings</c>).</summary>
    internal static IEnumerable<string> Warnings(TraceOpStats s, IReadOnlyList<ReplayResult> results)
    {
        bool tdx = results.Count > 0 && FastRmp.Engine.Tdx.TdxDesigns.TryParse(results[0].Policy, out _);
        if (!tdx && s.TdxSharedBitFaults > 0 && s.EncryptedFaults == 0)
        {
            yield return $"warning: {s.TdxSharedBitFaults:N0} of the {s.Faults:N0} faults have a GPA with a TD's shared bit (47 or 51) and none has the SEV "
                + "encrypted bit: this looks like an Intel TDX host's trace; replay it with --vm-type tdx (docs/tdx.md).";
        }
        else if (!tdx && s.Faults > 0 && s.EncryptedFaults == 0 && s.RmpFaults == 0 && s.LaunchUpdates == 0)
        {
            yield return $"warning: none of the {s.Faults:N0} faults has the SEV encrypted bit (error code bit 34) and the trace has no RMP fault or "
                + "launch update: this is not an SEV-SNP host's trace (a plain VM, or Intel VMX/TDX). The model replays it as SNP, so its "
                + "private/shared decisions and RMP counts do not describe this host; the fault and mapping counts still do.";
        }

        if (s.Unreadable > 0)
        {
            yield return $"warning: {s.Unreadable:N0} records of events the replay uses could not be read and were skipped (the first: {s.FirstUnreadable}): "
                + "their printed form is not one FastRmp parses. Replay the trace.dat itself, or trace-cmd report text made with -R.";
        }

        long missed = results.Count == 0 ? 0 : results.Max(r => r.Counters[CounterCatalog.PfnsNotFree]);
        if (missed > 0)
        {
            yield return $"warning: {missed:N0} traced pfns were outside the model's host or already taken (pfns_not_free); "
                + "if the host had more memory than --host-size, give its size so the model uses the traced pfns.";
        }
    }

    /// <summary>The TDX counters a TD's replay shows after the usual rows (docs/tdx.md).</summary>
    private static readonly CounterInfo[] s_tdxShown =
    [
        CounterCatalog.TdxPageAug4K, CounterCatalog.TdxPageAug2M, CounterCatalog.TdxSeptAdd, CounterCatalog.TdxRangeBlock, CounterCatalog.TdxTrack,
        CounterCatalog.TdxDemote, CounterCatalog.TdxRemove, CounterCatalog.TdxPamtBytes,
    ];

    /// <summary>The run's column: its policy, and its kernel when the results span more than one.</summary>
    private static string Label(ReplayResult r, IReadOnlyList<ReplayResult> results)
        => results.Select(x => x.Counters.Kernel).Distinct().Skip(1).Any() ? $"{r.Policy} @ {r.Counters.Kernel}" : r.Policy;

    /// <summary>", kernel 6.18" when every result ran one kernel, else "" (the columns name theirs).</summary>
    private static string KernelTitle(IReadOnlyList<ReplayResult> results)
        => results.Select(x => x.Counters.Kernel).Distinct().Skip(1).Any() ? "" : $", kernel {results[0].Counters.Kernel}";

    /// <summary>"VM 4242 (qemu-system-x86): " when the trace has more than the one unnamed VM, else "".</summary>
    private static string VmTitle(ReplayVm vm, IReadOnlyList<ReplayResult> results)
        => results.All(r => r.Vm.Process == 0) ? "" : vm.Process == 0 ? "threads of no known process: " : $"VM {vm.Process} ({vm.Name}): ";

    /// <summary>The first policy's model of <paramref name="vm"/> (the trace column and the memslots are the same in every one).</summary>
    private static ReplaySession FirstSession(Replayer replayer, ReplayVm vm) => replayer.Vms.First(v => v.Vm == vm).Sessions[0];

    private static void WriteVm(IAnsiConsole console, IReadOnlyList<ReplayResult> results, string title, ReplaySession first)
    {
        var traced = results[0].Fidelity.Traced;
        bool Differs(CounterInfo counter)
            => results.Count > 1 && results.Any(r => r.Counters.Counters.Any(c => c.Key == counter.Name))
                && results.Select(r => r.Counters[counter]).Distinct().Skip(1).Any();

        console.Write(new Markup($"{Markup.Escape(title)}memslots {Describe(results[0].Source)}\n"));
        var slots = TraceColumn.Memslots(first);
        foreach (var slot in slots.Take(MaxSlotsShown))
        {
            console.Write(new Markup($"  {Markup.Escape(TraceColumn.Describe(slot))}\n"));
        }

        if (slots.Count > MaxSlotsShown)
        {
            console.Write(new Markup($"  ... and {slots.Count - MaxSlotsShown:N0} more (all of them in --json)\n"));
        }

        foreach (var r in results)
        {
            if (r.FirstRefusal is { } refusal)
            {
                console.Write(new Markup($"[yellow]{Markup.Escape(title + Label(r, results))}: the model refused {Markup.Escape(refusal)}[/]\n"));
            }

            if (r.InvariantViolation is { } broken)
            {
                console.Write(new Markup($"[red]{Markup.Escape(title + Label(r, results))} broke an invariant: {Markup.Escape(broken)}[/]\n"));
            }
        }

        // The usual counters (and RMPOPT's, when the host had it), then any other counter on which the columns
        // disagree; a row that differs is marked. Cells are markup; a null row is an empty separator.
        var rows = new List<(string Title, string Trace, string[] Runs)?>();
        IReadOnlyList<CounterInfo> usual = results[0].Counters.RmpOpt ? [.. Shown, .. CounterCatalog.RmpOpt] : Shown;
        if (results[0].Counters.Counters.Any(c => c.Key == CounterCatalog.TdxPageAug4K.Name))
        {
            usual = [.. usual, .. s_tdxShown];
        }

        foreach (var counter in usual.Concat(CounterCatalog.All.Where(c => !usual.Contains(c) && Differs(c))))
        {
            string name = Markup.Escape(counter.Title);
            rows.Add((Differs(counter) ? $"[yellow]{name}[/]" : name, TraceColumn.For(counter, traced)?.ToString("N0", s_ci) ?? "", [.. results.Select(r => r.Counters[counter].ToString("N0", s_ci))]));
        }

        foreach (var (rowTitle, value) in TraceColumn.Rows(traced))
        {
            rows.Add((Markup.Escape(rowTitle), value.ToString("N0", s_ci), [.. results.Select(_ => "")]));
        }

        rows.Add(null);
        rows.Add(("agreement with the trace", "", [.. results.Select(r => Rate(r.Fidelity, "P2"))]));
        rows.Add(("levels agreed", "", [.. results.Select(r => $"{r.Fidelity.LevelsAgreed:N0} / {r.Fidelity.LevelsCompared:N0}")]));
        rows.Add(("exits agreed", "", [.. results.Select(r => $"{r.Fidelity.ExitsAgreed:N0} / {r.Fidelity.ExitsCompared:N0}")]));
        if (results.Any(r => r.Fidelity.StuckCompared > 0))
        {
            rows.Add(("[yellow]stuck accesses (compared, not agreed)[/]", "", [.. results.Select(r => r.Fidelity.StuckCompared.ToString("N0", s_ci))]));
        }

        rows.Add(("RMP-fault 2M regions (model: both)", results[0].Fidelity.TraceRmpRegions.ToString("N0", s_ci), [.. results.Select(r => $"{r.Fidelity.ModelRmpRegions:N0}: {r.Fidelity.CommonRmpRegions:N0}")]));

        // Side by side when the policies fit the terminal, else one block per policy (each with the trace column).
        string folio = CliOptions.FolioName(results[0].Counters.FolioOrder);
        string tableTitle = $"{title}folio {(first.Options.FolioAuto ? $"auto ({folio} elsewhere)" : folio)}{KernelTitle(results)}";
        int[] columns = Enumerable.Range(0, results.Count).ToArray();
        if (TableWidth(rows, results, columns) <= console.Profile.Width)
        {
            console.Write(CounterTable(tableTitle, rows, results, columns));
        }
        else
        {
            foreach (int column in columns)
            {
                console.Write(CounterTable($"{tableTitle}: {Label(results[column], results)}", rows, results, [column]));
            }
        }

        WriteDisagreements(console, results, title);
    }

    private static Table CounterTable(string title, List<(string Title, string Trace, string[] Runs)?> rows, IReadOnlyList<ReplayResult> results, int[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        table.AddColumn("counter");
        table.AddColumn(new TableColumn("[bold]trace[/]").RightAligned());
        foreach (int c in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(Label(results[c], results))).RightAligned());
        }

        foreach (var row in rows)
        {
            if (row is not { } r)
            {
                table.AddEmptyRow();
                continue;
            }

            table.AddRow([r.Title, r.Trace, .. columns.Select(c => r.Runs[c])]);
        }

        return table;
    }

    /// <summary>The width a rounded table of these rows takes: each column's widest cell, plus a space either side and a border.</summary>
    private static int TableWidth(List<(string Title, string Trace, string[] Runs)?> rows, IReadOnlyList<ReplayResult> results, int[] columns)
    {
        var present = rows.Where(r => r is not null).Select(r => r!.Value).ToList();
        int width = 1 + 3 + Math.Max("counter".Length, present.Max(r => Markup.Remove(r.Title).Length))
            + 3 + Math.Max("trace".Length, present.Max(r => r.Trace.Length));
        foreach (int c in columns)
        {
            width += 3 + Math.Max(Label(results[c], results).Length, present.Max(r => r.Runs[c].Length));
        }

        return width;
    }

    /// <summary>
    /// The first few disagreements of each category, once for every group of runs that disagree alike (under compare,
    /// policies that decide the same show one table).
    /// </summary>
    private static void WriteDisagreements(IAnsiConsole console, IReadOnlyList<ReplayResult> results, string title)
    {
        foreach (string category in Fidelity.Categories)
        {
            var groups = results
                .Where(r => r.Fidelity.FirstOf(category).Count > 0)
                .GroupBy(r => string.Join('\n', r.Fidelity.FirstOf(category).Take(FirstShown).Select(d => $"{d.Timestamp} {d.Gpa} {d.Trace} {d.Model} {d.Why}")));
            foreach (var group in groups)
            {
                var r = group.First();
                var first = r.Fidelity.FirstOf(category);
                string who = string.Join(", ", group.Select(x => $"{Label(x, results)} ({x.Fidelity.DisagreementsOf(category):N0} in all)"));
                console.Write(new Markup($"{Markup.Escape(title)}first {category} disagreements with the trace: {Markup.Escape(who)}\n"));
                var d = new Table().Border(TableBorder.Simple);
                d.AddColumn(new TableColumn("time (s)").RightAligned());
                d.AddColumn(new TableColumn("thread").RightAligned());
                d.AddColumn("gpa");
                d.AddColumn("trace");
                d.AddColumn("model");
                foreach (var x in first.Take(FirstShown))
                {
                    d.AddRow((x.Timestamp / 1e9).ToString("F9", s_ci), x.Pid.ToString(s_ci), $"0x{x.Gpa:x}", Markup.Escape(x.Trace), Markup.Escape(x.Model));
                }

                console.Write(d);
                foreach (string why in first.Take(FirstShown).Select(x => x.Why).Distinct())
                {
                    console.Write(new Markup($"  [dim]why:[/] {Markup.Escape(why)}\n"));
                }
            }
        }
    }

    /// <summary>What a run's HTML card says besides its counters: agreement, stuck accesses, refusals, the first disagreement of each category.</summary>
    private static List<string> Notes(ReplayResult r)
    {
        var f = r.Fidelity;
        var notes = new List<string> { $"agreement with the trace {Rate(f, "P2")}: levels {f.LevelsAgreed:N0} / {f.LevelsCompared:N0}, exits {f.ExitsAgreed:N0} / {f.ExitsCompared:N0}, {f.Disagreements:N0} disagreements" };
        if (f.StuckCompared > 0)
        {
            notes.Add($"{f.StuckCompared:N0} stuck accesses (compared, not agreed)");
        }

        if (r.FirstRefusal is { } refusal)
        {
            notes.Add($"the model refused {refusal}");
        }

        if (r.InvariantViolation is { } broken)
        {
            notes.Add($"broke an invariant: {broken}");
        }

        foreach (string category in Fidelity.Categories)
        {
            if (f.FirstOf(category) is [var d, ..])
            {
                notes.Add($"first {category} disagreement ({f.DisagreementsOf(category):N0} in all) at {d.Timestamp / 1e9:F9} s, thread {d.Pid}, gpa 0x{d.Gpa:x}: trace {d.Trace}, model {d.Model}; {d.Why}");
            }
        }

        return notes;
    }

    /// <summary>
    /// Crops every run's host map to the part the guests used (up to the last region not free in any run, rounded up
    /// to 1 GiB) when that is at most half the host: a small guest on a 1 TiB host would otherwise be a page of free
    /// memory. Returns the note the page's source line gets, or "" when nothing was cropped.
    /// </summary>
    internal static string CropMaps(List<ReportRun> runs)
    {
        const int RegionsPerGiB = 512;
        int regions = 0, used = 0;
        foreach (var map in runs.Select(r => r.Map).OfType<Engine.Reports.HostMemoryMap>())
        {
            var states = map.Regions;
            int last = states.LastIndexOfAnyExcept(Engine.Reports.HostRegionState.Free);
            used = Math.Max(used, last + 1);
            regions = Math.Max(regions, states.Length);
        }

        int crop = Math.Max(RegionsPerGiB, (used + RegionsPerGiB - 1) / RegionsPerGiB * RegionsPerGiB);
        if (regions == 0 || crop * 2L > regions)
        {
            return "";
        }

        for (int i = 0; i < runs.Count; i++)
        {
            if (runs[i].Map is { } map && map.Regions.Length > crop)
            {
                runs[i] = runs[i] with { Map = Engine.Reports.HostMemoryMap.FromRegions((ulong)crop * Engine.Reports.HostMemoryMap.PagesPerRegion, map.Regions[..crop]), HostPages = map.HostPages };
            }
        }

        return $"; host maps cropped to the first {MapLayout.Bytes((long)crop << 21)} of {MapLayout.Bytes((long)regions << 21)} (the rest is free in every run)";
    }

    /// <summary>The agreement rate as a percentage, or "n/a" when nothing was compared (not 100 %: there is no evidence either way).</summary>
    internal static string Rate(Fidelity fidelity, string format)
        => fidelity.AgreementRate is { } rate ? rate.ToString(format, s_ci) : "n/a";

    private static string Describe(MemslotSource source) => source switch
    {
        MemslotSource.Trace => "from QEMU's kvm_set_user_memory events",
        MemslotSource.File => "from --memslots",
        MemslotSource.Inferred => "inferred (guest_memfd-backed 1 GiB slots around the faulting gfns; give --memslots or trace QEMU for the real layout)",
        _ => "none (no fault needed one)",
    };

    /// <summary>The JSON report (schema in docs/replay.md).</summary>
    private static void WriteJson(FileInfo? file, ITraceReader reader, Replayer replayer, IReadOnlyList<ReplayResult> results, ReplayOptions options, double seconds)
    {
        if (file is not null)
        {
            ReportFile.WriteJson(file, "--json", Report(reader, replayer, results, options, seconds), ReportJsonContext.Default.ReplayReportJson);
        }
    }

    private static ReplayReportJson Report(ITraceReader reader, Replayer replayer, IReadOnlyList<ReplayResult> results, ReplayOptions options, double seconds)
    {
        var s = replayer.Ops.Stats;
        var trace = new ReplayTraceJson(
            reader.Info.Path, reader.Info.Kind.ToString(), reader.Info.Version, s.Records, s.KvmEvents, s.Faults, s.RmpBitFaults,
            s.SpteRequested, s.MemoryFaultExits, s.RmpFaults, s.Memslots, s.Conversions, s.LaunchUpdates, s.ThreadsWithProcess,
            replayer.Vms.Count, s.FirstTimestamp, s.LastTimestamp, reader.Stats.LostEvents, reader.Stats.DamageCount,
            replayer.Error?.Message, seconds);
        var modelOptions = new ReplayOptionsJson(options.FolioAuto ? $"auto ({CliOptions.FolioName(options.FolioOrder)} fallback)" : CliOptions.FolioName(options.FolioOrder), options.HostBytes, new VmTypeName(options.VmType).ToString(), (options.Kernel ?? KvmKernel.Default).Name, options.RmpOpt);
        var runs = results.Select(r =>
        {
            var f = r.Fidelity;
            var fidelity = new FidelityJson(
                f.AgreementRate, f.LevelsCompared, f.LevelsAgreed, f.ExitsCompared, f.ExitsAgreed, f.StuckCompared, f.TraceRmpRegions, f.ModelRmpRegions,
                f.CommonRmpRegions, f.Disagreements, [.. f.First.Select(d => new DisagreementJson(d.Timestamp, d.What, $"0x{d.Gpa:x}", d.Trace, d.Model, d.Cpu, d.Pid, d.Why))]);
            return new ReplayRunJson(
                r.Policy, r.Counters.Kernel, new ReplayVmJson(r.Vm.Process, r.Vm.Name), r.Source.ToString().ToLowerInvariant(), ReportFile.Counters(r.Counters.Counters),
                fidelity, r.FirstRefusal, r.InvariantViolation);
        });
        var vms = results.GroupBy(r => r.Vm).Select(vm =>
        {
            var first = vm.First();
            return TraceColumn.Json(vm.Key, first.Source, first.Fidelity.Traced, first.Fidelity, TraceColumn.Memslots(FirstSession(replayer, vm.Key)));
        });
        return new ReplayReportJson(trace, modelOptions, [.. runs], [.. vms], [.. Warnings(s, results)]);
    }

    /// <summary>The options replay and compare share.</summary>
    private sealed class SharedOptions
    {
        public SharedOptions(Command command)
        {
            command.Arguments.Add(Trace);
            foreach (var option in new Option[] { Folio, FolioFallback, Kernel, RmpOpt, HostSize, VmType, Memslots, Json, Html, Disagreements, Verify, Perfetto, Threads })
            {
                command.Options.Add(option);
            }
        }

        public Argument<string[]> Trace { get; } = new("TRACE")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "One or more host traces, each replayed as its own host: trace.dat (v6/v7), tracefs trace/trace_pipe text, trace-cmd report, perf script output or perf.data (file or pipe mode); '-' reads standard input; gzip, xz and zstd files are decompressed.",
        };

        public Option<string> Folio { get; } = CliOptions.ReplayFolio();

        public Option<FolioSize?> FolioFallback { get; } = CliOptions.Folio("With --folio auto, the folio size where the trace shows no private 2M leaf.", name: "--folio-fallback");

        public Option<string> Kernel { get; } = CliOptions.ModelKernel();

        public Option<bool> RmpOpt { get; } = CliOptions.RmpOpt();

        public Option<ByteSize?> HostSize { get; } = CliOptions.Size("--host-size", "The host's memory, e.g. 256G or 1T (the allocator's and the RMP's range)", 1UL << 30, 4UL << 40, defaultText: "1T");

        public Option<VmTypeName> VmType { get; } = CliOptions.VmType(tdx: true);

        public Option<FileInfo?> Memslots { get; } = new("--memslots") { HelpName = "FILE", Description = "A JSON array of memslots mirroring kvm_userspace_memory_region2, or QEMU's -trace kvm_set_user_memory log (docs/replay.md); overrides the trace's." };

        public Option<FileInfo?> Json { get; } = new("--json") { HelpName = "FILE", Description = "Also write the results as JSON (schema in docs/replay.md) to this file." };

        public Option<FileInfo?> Disagreements { get; } = new("--disagreements") { HelpName = "FILE.jsonl", Description = "Write every disagreement with the trace (category, time, cpu, vCPU thread, gpa, gfn, traced pfn and level, error code, the model's decision and why) as JSON lines, as they are found." };

        public Option<bool> Verify { get; } = new("--verify") { Description = "Check the model's invariants at the end (every mapping against the RMP, the allocator; about 1 s per TiB of host)." };

        public Option<FileInfo?> Perfetto { get; } = PerfettoOutput.Option("Also write the trace's records and the model's run (per model: vCPU tracks of faults and exits, counters of private 4K/2M pages, PSMASHes and RMP faults) as a Perfetto trace (docs/perfetto.md).");

        public Option<int> Threads { get; } = CliOptions.Threads();

        public Option<FileInfo?> Html { get; } = new("--html") { HelpName = "FILE", Description = "Also write a self-contained HTML report (the comparison, mapping levels, a map of host memory per policy)." };

        public ReplayOptions Options(ParseResult parse)
        {
            var memslots = parse.GetValue(Memslots) is { } file ? MemslotFile.Read(file.FullName) : null;
            var folio = CliOptions.ReplayFolioSize(parse.GetValue(Folio));
            return new ReplayOptions(folio?.Order ?? parse.GetValue(FolioFallback)!.Value.Order, parse.GetValue(HostSize)!.Value.Bytes, parse.GetValue(VmType).Type, memslots, Verify: parse.GetValue(Verify), Kernel: KvmKernel.Parse(parse.GetValue(Kernel)!), RmpOpt: parse.GetValue(RmpOpt), FolioAuto: folio is null);
        }
    }
}
