using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FastRmp.Cli.Reports;
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

    /// <summary>The counters the replay tables show, with their titles.</summary>
    private static readonly (string Counter, string Title)[] Shown =
    [
        ("faults_private", "private faults"), ("faults_shared", "shared faults"), ("memory_fault_exits", "memory-fault exits"),
        ("rmpupdate_4k", "RMPUPDATE 4K"), ("rmpupdate_2m", "RMPUPDATE 2M"), ("psmash", "PSMASH"), ("rmp_lookups", "RMP lookups"),
        ("rmp_npf", "extra #NPF(RMP)"), ("zapped", "SPTEs zapped"), ("npt_4k", "NPT 4K leaves"), ("npt_2m", "NPT 2M leaves"),
        ("npt_1g", "NPT 1G leaves"), ("rmp_2m_entries", "RMP 2M entries"), ("rmp_4k_entries", "RMP 4K entries"),
        ("pfns_from_trace", "pfns as traced"), ("inferred_conversions", "inferred conversions"), ("inferred_validations", "inferred 2M acceptances"),
    ];

    /// <summary><c>fastrmp replay</c>.</summary>
    public static Command CreateReplay()
    {
        var policy = new Option<string>("--policy") { Description = $"The policy: {string.Join(", ", PolicyCatalog.Names)}.", DefaultValueFactory = _ => "first-use" };
        var export = new Option<FileInfo?>("--export-trace") { Description = "Write the model's run as a trace.dat (v7, zstd) to open next to the real one in KernelShark." };
        var command = new Command("replay", "Replay a host trace (trace.dat, ftrace text, perf script) through the model under one policy: counters and agreement with the traced kernel.");
        var shared = new SharedOptions(command);
        command.Options.Add(policy);
        command.Options.Add(export);
        command.SetAction(parse => Run(parse, shared, [parse.GetValue(policy)!], parse.GetValue(export)));
        return command;
    }

    /// <summary><c>fastrmp compare</c>.</summary>
    public static Command CreateCompare()
    {
        var policies = new Option<string>("--policies")
        {
            Description = "Comma-separated policies to compare side by side.",
            DefaultValueFactory = _ => string.Join(",", PolicyCatalog.Names),
        };
        var command = new Command("compare", "Replay a host trace under several policies in one pass and compare them side by side.");
        var shared = new SharedOptions(command);
        command.Options.Add(policies);
        command.SetAction(parse => Run(parse, shared, [.. parse.GetValue(policies)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)], null));
        return command;
    }

    private static int Run(ParseResult parse, SharedOptions o, IReadOnlyList<string> policies, FileInfo? exportFile)
    {
        foreach (string p in policies)
        {
            if (!PolicyCatalog.Names.Contains(p))
            {
                throw new CliInputException($"unknown policy '{p}'; the policies are {string.Join(", ", PolicyCatalog.Names)}.");
            }
        }

        if (policies.Count == 0 || policies.Distinct().Count() != policies.Count)
        {
            throw new CliInputException("--policies: name each policy once.");
        }

        string path = parse.GetValue(o.Trace)!;
        var options = o.Options(parse);
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        using var reader = TraceCommandHelpers.Open(path);
        using var replayer = new Replayer(reader, options, policies);
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
                + string.Join("; ", results.Select(r => $"{VmTitle(r.Vm, results)}{r.Policy} agrees with the trace on {r.Fidelity.AgreementRate.ToString("P1", s_ci)} of decisions (memslots {Describe(r.Source)})"));
            ReportFile.Write(html, "--html", w => HtmlReport.Write(w, $"fastrmp {parse.CommandResult.Command.Name}: {Path.GetFileName(path)}", source, [.. results.Select(r => ReportRun.From(r.Counters) with { Group = $"{VmTitle(r.Vm, results)}folio {ScenarioCommands.FolioName(r.Counters.FolioOrder)}" })]));
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
        long length = new FileInfo(path).Length;
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

    /// <summary>"VM 4242 (qemu-system-x86): " when the trace has more than the one unnamed VM, else "".</summary>
    private static string VmTitle(ReplayVm vm, IReadOnlyList<ReplayResult> results)
        => results.All(r => r.Vm.Process == 0) ? "" : vm.Process == 0 ? "threads of no known process: " : $"VM {vm.Process} ({vm.Name}): ";

    private static void WriteVm(IAnsiConsole console, IReadOnlyList<ReplayResult> results, string title)
    {
        console.Write(new Markup($"{Markup.Escape(title)}memslots {Describe(results[0].Source)}\n"));
        foreach (var r in results)
        {
            if (r.FirstRefusal is { } refusal)
            {
                console.Write(new Markup($"[yellow]{Markup.Escape(title + r.Policy)}: the model refused {Markup.Escape(refusal)}[/]\n"));
            }

            if (r.InvariantViolation is { } broken)
            {
                console.Write(new Markup($"[red]{Markup.Escape(title + r.Policy)} broke an invariant: {Markup.Escape(broken)}[/]\n"));
            }
        }

        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{title}folio {ScenarioCommands.FolioName(results[0].Counters.FolioOrder)}"));
        table.AddColumn("counter");
        foreach (var r in results)
        {
            table.AddColumn(new TableColumn(Markup.Escape(r.Policy)).RightAligned());
        }

        foreach (var (counter, name) in Shown)
        {
            table.AddRow([name, .. results.Select(r => r.Counters[counter].ToString("N0", s_ci))]);
        }

        table.AddEmptyRow();
        table.AddRow(["agreement with the trace", .. results.Select(r => r.Fidelity.AgreementRate.ToString("P2", s_ci))]);
        table.AddRow(["levels agreed", .. results.Select(r => $"{r.Fidelity.LevelsAgreed:N0} / {r.Fidelity.LevelsCompared:N0}")]);
        table.AddRow(["exits agreed", .. results.Select(r => $"{r.Fidelity.ExitsAgreed:N0} / {r.Fidelity.ExitsCompared:N0}")]);
        table.AddRow(["RMP-fault 2M regions (trace / model / both)", .. results.Select(r => $"{r.Fidelity.TraceRmpRegions:N0} / {r.Fidelity.ModelRmpRegions:N0} / {r.Fidelity.CommonRmpRegions:N0}")]);
        console.Write(table);
        foreach (var r in results.Where(r => r.Fidelity.First.Count > 0))
        {
            var d = new Table().Border(TableBorder.Simple).Title(Markup.Escape($"{title}{r.Policy}: first disagreements with the trace ({r.Fidelity.Disagreements:N0} in all)"));
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
        if (file is null)
        {
            return;
        }

        ReportFile.WriteJson(file, "--json", w => WriteJson(w, reader, replayer, results, options, seconds));
    }

    private static void WriteJson(Utf8JsonWriter w, ITraceReader reader, Replayer replayer, IReadOnlyList<ReplayResult> results, ReplayOptions options, double seconds)
    {
        var s = replayer.Ops.Stats;
        w.WriteStartObject();
        w.WriteStartObject("trace");
        w.WriteString("path", reader.Info.Path);
        w.WriteString("format", reader.Info.Kind.ToString());
        w.WriteString("version", reader.Info.Version);
        w.WriteNumber("records", s.Records);
        w.WriteNumber("kvm_events", s.KvmEvents);
        w.WriteNumber("faults", s.Faults);
        w.WriteNumber("rmp_bit_faults", s.RmpBitFaults);
        w.WriteNumber("spte_requested", s.SpteRequested);
        w.WriteNumber("memory_fault_exits", s.MemoryFaultExits);
        w.WriteNumber("rmp_faults", s.RmpFaults);
        w.WriteNumber("memslot_events", s.Memslots);
        w.WriteNumber("conversions", s.Conversions);
        w.WriteNumber("launch_updates", s.LaunchUpdates);
        w.WriteNumber("threads_with_process", s.ThreadsWithProcess);
        w.WriteNumber("vms", replayer.Vms.Count);
        w.WriteNumber("first_timestamp_ns", s.FirstTimestamp);
        w.WriteNumber("last_timestamp_ns", s.LastTimestamp);
        w.WriteNumber("lost_events", reader.Stats.LostEvents);
        w.WriteNumber("damaged_regions", reader.Stats.DamageCount);
        if (replayer.Error is { } error)
        {
            w.WriteString("error", error.Message);
        }
        else
        {
            w.WriteNull("error");
        }

        w.WriteNumber("replay_seconds", seconds);
        w.WriteEndObject();
        w.WriteStartObject("options");
        w.WriteString("folio", ScenarioCommands.FolioName(options.FolioOrder));
        w.WriteNumber("host_bytes", options.HostBytes);
        w.WriteString("vm_type", options.VmType == KvmVmType.Snp ? "snp" : "sw-protected");
        w.WriteEndObject();
        w.WriteStartArray("runs");
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("policy", r.Policy);
            w.WriteStartObject("vm");
            w.WriteNumber("process", r.Vm.Process);
            w.WriteString("name", r.Vm.Name);
            w.WriteEndObject();
            w.WriteString("memslot_source", r.Source.ToString().ToLowerInvariant());
            ReportFile.WriteCounters(w, r.Counters.Counters);
            var f = r.Fidelity;
            w.WriteStartObject("fidelity");
            w.WriteNumber("agreement_rate", f.AgreementRate);
            w.WriteNumber("levels_compared", f.LevelsCompared);
            w.WriteNumber("levels_agreed", f.LevelsAgreed);
            w.WriteNumber("exits_compared", f.ExitsCompared);
            w.WriteNumber("exits_agreed", f.ExitsAgreed);
            w.WriteNumber("trace_rmp_regions", f.TraceRmpRegions);
            w.WriteNumber("model_rmp_regions", f.ModelRmpRegions);
            w.WriteNumber("common_rmp_regions", f.CommonRmpRegions);
            w.WriteNumber("disagreements", f.Disagreements);
            w.WriteStartArray("first");
            foreach (var d in f.First)
            {
                w.WriteStartObject();
                w.WriteNumber("timestamp_ns", d.Timestamp);
                w.WriteString("what", d.What);
                w.WriteString("gpa", $"0x{d.Gpa:x}");
                w.WriteString("trace", d.Trace);
                w.WriteString("model", d.Model);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            if (r.FirstRefusal is { } refusal)
            {
                w.WriteString("first_refusal", refusal);
            }

            if (r.InvariantViolation is { } broken)
            {
                w.WriteString("invariant_violation", broken);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The options replay and compare share.</summary>
    private sealed class SharedOptions
    {
        public SharedOptions(Command command)
        {
            command.Arguments.Add(Trace);
            foreach (var option in new Option[] { Folio, HostSize, VmType, Memslots, Json, Html, Verify })
            {
                command.Options.Add(option);
            }
        }

        public Argument<string> Trace { get; } = new("TRACE") { Description = "A host trace: trace.dat (v6/v7), tracefs trace/trace_pipe text, trace-cmd report or perf script output." };

        public Option<string> Folio { get; } = new("--folio") { Description = "guest_memfd folio size of the model: 4k (upstream), 2m (THP series), 1g (HugeTLB series).", DefaultValueFactory = _ => "4k" };

        public Option<string> HostSize { get; } = new("--host-size") { Description = "The host's memory, e.g. 256G or 1T (the allocator's and the RMP's range).", DefaultValueFactory = _ => "1T" };

        public Option<string> VmType { get; } = new("--vm-type") { Description = "snp (RMP and the policy's hooks) or sw-protected (guest_memfd without hardware checks).", DefaultValueFactory = _ => "snp" };

        public Option<FileInfo?> Memslots { get; } = new("--memslots") { Description = "A JSON array of memslots mirroring kvm_userspace_memory_region2 (docs/replay.md); overrides the trace's." };

        public Option<FileInfo?> Json { get; } = new("--json") { Description = "Also write the results as JSON (schema in docs/replay.md) to this file." };

        public Option<bool> Verify { get; } = new("--verify") { Description = "Check the model's invariants at the end (every mapping against the RMP, the allocator; about 1 s per TiB of host)." };

        public Option<FileInfo?> Html { get; } = new("--html") { Description = "Also write a self-contained HTML report (the comparison, mapping levels, a map of host memory per policy)." };

        public ReplayOptions Options(ParseResult parse)
        {
            int order = ScenarioCommands.FolioOrder(parse.GetValue(Folio)!);
            ulong host = ScenarioCommands.ParseSize(parse.GetValue(HostSize)!, "--host-size");
            if (host < 1UL << 30 || host > 4UL << 40)
            {
                throw new CliInputException("--host-size: between 1G and 4T.");
            }

            var type = parse.GetValue(VmType)!.ToLowerInvariant() switch
            {
                "snp" => KvmVmType.Snp,
                "sw-protected" => KvmVmType.SwProtected,
                var other => throw new CliInputException($"--vm-type: '{other}' is not snp or sw-protected."),
            };
            var memslots = parse.GetValue(Memslots) is { } file ? MemslotFile.Read(file.FullName) : null;
            return new ReplayOptions(order, host, type, memslots, Verify: parse.GetValue(Verify));
        }
    }
}
