using System.CommandLine;
using System.Globalization;
using FastRmp.Cli.Options;
using FastRmp.Cli.Reports;
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
        var policy = CliOptions.Policy();
        var export = new Option<FileInfo?>("--export-trace") { HelpName = "FILE", Description = "Write the model's run as a trace.dat (v7, zstd) to open next to the real one in KernelShark." };
        var command = new Command("replay", "Replay a host trace (trace.dat, ftrace text, perf script) through the model under one policy: counters and agreement with the traced kernel.");
        var shared = new SharedOptions(command);
        command.Options.Add(policy);
        command.Options.Add(export);
        command.SetAction(parse => Run(parse, shared, [parse.GetValue(policy)!], null, parse.GetValue(export)));
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
        command.SetAction(parse => Run(
            parse,
            shared,
            parse.GetValue(policies) is { Length: > 0 } named ? named : [.. PolicyCatalog.Names],
            parse.GetValue(kernels) is { Length: > 0 } k ? k : null,
            null));
        return command;
    }

    private static int Run(ParseResult parse, SharedOptions o, IReadOnlyList<string> policies, IReadOnlyList<KvmKernel>? kernels, FileInfo? exportFile)
    {
        string path = parse.GetValue(o.Trace)!;
        var options = o.Options(parse);
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        using var reader = TraceCommandHelpers.Open(path);
        using var replayer = new Replayer(reader, options, policies, kernels);
        var export = exportFile is null ? null : new TraceExport(reader.Info.CpuCount > 0 ? reader.Info.CpuCount : 64);
        replayer.Recorder = export;

        var started = System.Diagnostics.Stopwatch.StartNew();
        RunWithProgress(replayer, path, stderr);
        double seconds = started.Elapsed.TotalSeconds;
        var stats = replayer.Ops.Stats;
        if (stats.KvmEvents == 0 && replayer.Error is null)
        {
            throw new CliInputException($"{path}: no KVM events in {stats.Records:N0} records; record the host with 'trace-cmd record -e kvm -e kvmmmu' (and QEMU's ftrace trace backend for memslots and conversions)");
        }

        var results = replayer.Results(Path.GetFileName(path));
        var console = Terminal.For(stdout);
        WriteSummary(console, reader, replayer, results, seconds);
        WriteJson(parse.GetValue(o.Json), reader, replayer, results, options, seconds);
        if (parse.GetValue(o.Html) is { } html)
        {
            string source = $"{path}: {stats.Records:N0} records, {stats.Faults:N0} faults; "
                + string.Join("; ", results.Select(r => $"{VmTitle(r.Vm, results)}{Label(r, results)} agrees with the trace on {r.Fidelity.AgreementRate.ToString("P1", s_ci)} of decisions (memslots {Describe(r.Source)})"));
            ReportFile.Write(html, "--html", w => HtmlReport.Write(w, $"fastrmp {parse.CommandResult.Command.Name}: {Path.GetFileName(path)}", source, [.. results.Select(r => ReportRun.From(r.Counters) with { Label = Label(r, results), Group = $"{VmTitle(r.Vm, results)}folio {CliOptions.FolioName(r.Counters.FolioOrder)}{KernelTitle(results)}{(r.Counters.RmpOpt ? ", RMPOPT" : "")}" })]));
        }

        export?.Save(exportFile!);
        if (replayer.Error is { } error)
        {
            stderr.WriteLine($"fastrmp: {error.Message} (the replay stopped there; the results above cover the records before it)");
            return ExitCodes.InputError;
        }

        return ExitCodes.Ok;
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
            WriteVm(console, [.. vm], VmTitle(vm.Key, results));
        }
    }

    /// <summary>The run's column: its policy, and its kernel when the results span more than one.</summary>
    private static string Label(ReplayResult r, IReadOnlyList<ReplayResult> results)
        => results.Select(x => x.Counters.Kernel).Distinct().Skip(1).Any() ? $"{r.Policy} @ {r.Counters.Kernel}" : r.Policy;

    /// <summary>", kernel 6.18" when every result ran one kernel, else "" (the columns name theirs).</summary>
    private static string KernelTitle(IReadOnlyList<ReplayResult> results)
        => results.Select(x => x.Counters.Kernel).Distinct().Skip(1).Any() ? "" : $", kernel {results[0].Counters.Kernel}";

    /// <summary>"VM 4242 (qemu-system-x86): " when the trace has more than the one unnamed VM, else "".</summary>
    private static string VmTitle(ReplayVm vm, IReadOnlyList<ReplayResult> results)
        => results.All(r => r.Vm.Process == 0) ? "" : vm.Process == 0 ? "threads of no known process: " : $"VM {vm.Process} ({vm.Name}): ";

    private static void WriteVm(IAnsiConsole console, IReadOnlyList<ReplayResult> results, string title)
    {
        bool Differs(CounterInfo counter)
            => results.Count > 1 && results.Any(r => r.Counters.Counters.Any(c => c.Key == counter.Name))
                && results.Select(r => r.Counters[counter.Name]).Distinct().Skip(1).Any();

        console.Write(new Markup($"{Markup.Escape(title)}memslots {Describe(results[0].Source)}\n"));
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

        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{title}folio {CliOptions.FolioName(results[0].Counters.FolioOrder)}{KernelTitle(results)}"));
        table.AddColumn("counter");
        foreach (var r in results)
        {
            table.AddColumn(new TableColumn(Markup.Escape(Label(r, results))).RightAligned());
        }

        // The usual counters (and RMPOPT's, when the host had it), then any other counter on which the columns
        // disagree; a row that differs is marked.
        var usual = results[0].Counters.RmpOpt ? [.. Shown, .. CounterCatalog.RmpOpt] : Shown;
        var rows = usual.Concat(CounterCatalog.All.Where(c => !usual.Contains(c) && Differs(c)));
        foreach (var counter in rows)
        {
            string name = Markup.Escape(counter.Title);
            table.AddRow([Differs(counter) ? $"[yellow]{name}[/]" : name, .. results.Select(r => r.Counters[counter.Name].ToString("N0", s_ci))]);
        }

        table.AddEmptyRow();
        table.AddRow(["agreement with the trace", .. results.Select(r => r.Fidelity.AgreementRate.ToString("P2", s_ci))]);
        table.AddRow(["levels agreed", .. results.Select(r => $"{r.Fidelity.LevelsAgreed:N0} / {r.Fidelity.LevelsCompared:N0}")]);
        table.AddRow(["exits agreed", .. results.Select(r => $"{r.Fidelity.ExitsAgreed:N0} / {r.Fidelity.ExitsCompared:N0}")]);
        table.AddRow(["RMP-fault 2M regions (trace / model / both)", .. results.Select(r => $"{r.Fidelity.TraceRmpRegions:N0} / {r.Fidelity.ModelRmpRegions:N0} / {r.Fidelity.CommonRmpRegions:N0}")]);
        console.Write(table);
        foreach (var r in results.Where(r => r.Fidelity.First.Count > 0))
        {
            var d = new Table().Border(TableBorder.Simple).Title(Markup.Escape($"{title}{Label(r, results)}: first disagreements with the trace ({r.Fidelity.Disagreements:N0} in all)"));
            d.AddColumn(new TableColumn("time (s)").RightAligned());
            d.AddColumn("what");
            d.AddColumn("gpa");
            d.AddColumn("trace");
            d.AddColumn("model");
            foreach (var x in r.Fidelity.First)
            {
                d.AddRow((x.Timestamp / 1e9).ToString("F9", s_ci), x.What, $"0x{x.Gpa:x}", x.Trace, x.Model);
            }

            console.Write(d);
        }
    }

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
        var modelOptions = new ReplayOptionsJson(CliOptions.FolioName(options.FolioOrder), options.HostBytes, options.VmType == KvmVmType.Snp ? "snp" : "sw-protected", (options.Kernel ?? KvmKernel.Default).Name, options.RmpOpt);
        var runs = results.Select(r =>
        {
            var f = r.Fidelity;
            var fidelity = new FidelityJson(
                f.AgreementRate, f.LevelsCompared, f.LevelsAgreed, f.ExitsCompared, f.ExitsAgreed, f.TraceRmpRegions, f.ModelRmpRegions,
                f.CommonRmpRegions, f.Disagreements, [.. f.First.Select(d => new DisagreementJson(d.Timestamp, d.What, $"0x{d.Gpa:x}", d.Trace, d.Model))]);
            return new ReplayRunJson(
                r.Policy, r.Counters.Kernel, new ReplayVmJson(r.Vm.Process, r.Vm.Name), r.Source.ToString().ToLowerInvariant(), ReportFile.Counters(r.Counters.Counters),
                fidelity, r.FirstRefusal, r.InvariantViolation);
        });
        return new ReplayReportJson(trace, modelOptions, [.. runs]);
    }

    /// <summary>The options replay and compare share.</summary>
    private sealed class SharedOptions
    {
        public SharedOptions(Command command)
        {
            command.Arguments.Add(Trace);
            foreach (var option in new Option[] { Folio, Kernel, RmpOpt, HostSize, VmType, Memslots, Json, Html, Verify })
            {
                command.Options.Add(option);
            }
        }

        public Argument<string> Trace { get; } = new("TRACE") { Description = "A host trace: trace.dat (v6/v7), tracefs trace/trace_pipe text, trace-cmd report or perf script output; '-' reads standard input; gzip, xz and zstd files are decompressed." };

        public Option<FolioSize?> Folio { get; } = CliOptions.Folio("guest_memfd folio size of the model.");

        public Option<string> Kernel { get; } = CliOptions.ModelKernel();

        public Option<bool> RmpOpt { get; } = CliOptions.RmpOpt();

        public Option<ByteSize?> HostSize { get; } = CliOptions.Size("--host-size", "The host's memory, e.g. 256G or 1T (the allocator's and the RMP's range)", 1UL << 30, 4UL << 40, defaultText: "1T");

        public Option<VmTypeName> VmType { get; } = CliOptions.VmType();

        public Option<FileInfo?> Memslots { get; } = new("--memslots") { HelpName = "FILE", Description = "A JSON array of memslots mirroring kvm_userspace_memory_region2, or QEMU's -trace kvm_set_user_memory log (docs/replay.md); overrides the trace's." };

        public Option<FileInfo?> Json { get; } = new("--json") { HelpName = "FILE", Description = "Also write the results as JSON (schema in docs/replay.md) to this file." };

        public Option<bool> Verify { get; } = new("--verify") { Description = "Check the model's invariants at the end (every mapping against the RMP, the allocator; about 1 s per TiB of host)." };

        public Option<FileInfo?> Html { get; } = new("--html") { HelpName = "FILE", Description = "Also write a self-contained HTML report (the comparison, mapping levels, a map of host memory per policy)." };

        public ReplayOptions Options(ParseResult parse)
        {
            var memslots = parse.GetValue(Memslots) is { } file ? MemslotFile.Read(file.FullName) : null;
            return new ReplayOptions(parse.GetValue(Folio)?.Order ?? 0, parse.GetValue(HostSize)!.Value.Bytes, parse.GetValue(VmType).Type, memslots, Verify: parse.GetValue(Verify), Kernel: KvmKernel.Parse(parse.GetValue(Kernel)!), RmpOpt: parse.GetValue(RmpOpt));
        }
    }
}
