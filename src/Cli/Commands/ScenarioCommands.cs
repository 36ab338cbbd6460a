using System.CommandLine;
using System.Globalization;
using FastRmp.Cli.Options;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;
using Spectre.Console;

namespace FastRmp.Cli.Commands;

/// <summary>
/// The built-in scenarios: <c>fastrmp</c> (every scenario under every policy, the comparison table),
/// <c>fastrmp scenarios</c> (the list) and <c>fastrmp scenario NAME</c> (one run, every counter).
/// </summary>
internal static class ScenarioCommands
{
    /// <summary>The counters the comparison table shows, in column order (titles from the catalog).</summary>
    internal static IReadOnlyList<CounterInfo> Columns { get; } =
    [
        CounterCatalog.RmpUpdate4K, CounterCatalog.RmpUpdate2M, CounterCatalog.Psmash, CounterCatalog.RmpNpf,
        CounterCatalog.MemoryFaultExits, CounterCatalog.HypercallExits, CounterCatalog.Npt4K, CounterCatalog.Npt2M,
        CounterCatalog.Rmp4KEntries, CounterCatalog.Rmp2MEntries, CounterCatalog.FaultsPrivate, CounterCatalog.RmpLookups,
        CounterCatalog.LaunchUpdateFailures,
    ];

    private static readonly ulong s_maxGuest = 1UL << 40;

    /// <summary>Every scenario name, SNP's then TDX's own.</summary>
    private static string[] AllNames { get; } = [.. ScenarioCatalog.All.Select(s => s.Name).Union(TdxScenarioCatalog.All.Select(s => s.Name))];

    /// <summary>The root command's own action: the comparison of every policy on every scenario.</summary>
    public static void AddCompareAction(RootCommand root)
    {
        var folio = CliOptions.Folio("The folio size to compare (default: all three).", optional: true);
        var json = new Option<FileInfo?>("--json") { HelpName = "FILE", Description = "Also write every result as JSON to this file." };
        var html = HtmlOption();
        var kernel = CliOptions.ModelKernel();
        var rmpopt = CliOptions.RmpOpt();
        root.Options.Add(folio);
        root.Options.Add(kernel);
        root.Options.Add(rmpopt);
        root.Options.Add(json);
        root.Options.Add(html);
        root.SetAction(parse =>
        {
            var only = parse.GetValue(folio);
            int[] orders = only is { } o ? [o.Order] : [0, 9, 18];
            var k = KvmKernel.Parse(parse.GetValue(kernel)!);
            var options = new HostOptions(Kernel: k, RmpOpt: parse.GetValue(rmpopt));
            var results = new List<RunResult>();
            var console = Terminal.For(parse.InvocationConfiguration.Output);
            console.Write(new Markup("[bold]FastRmp[/]: the 2023 guest_memfd debate, counted (docs/policies.md explains every value; 'fastrmp counters' every column)\n"));
            foreach (int order in orders)
            {
                var table = NewTable(k == KvmKernel.Default ? $"folio {CliOptions.FolioName(order)}" : $"folio {CliOptions.FolioName(order)}, kernel {k.Name}");
                foreach (var scenario in ScenarioCatalog.All)
                {
                    foreach (var policy in PolicyCatalog.Kinds)
                    {
                        var result = ScenarioCatalog.Run(scenario, policy, new FolioSize(order), null, options);
                        results.Add(result);
                        table.AddRow([scenario.Name, policy.Name(), .. Columns.Select(c => result[c].ToString("N0", CultureInfo.InvariantCulture))]);
                    }

                    if (scenario != ScenarioCatalog.All[^1])
                    {
                        table.AddEmptyRow();
                    }
                }

                console.Write(table);
            }

            WriteSideBySide(console, orders, options, results);
            WriteJson(parse.GetValue(json), results);
            WriteHtml(
                parse.GetValue(html),
                "FastRmp: the 2023 guest_memfd debate, counted",
                $"fastrmp{(only is { } f ? $" --folio {f}" : "")}: every built-in scenario under every policy ({ReportFile.Version()}; docs/policies.md explains every value)",
                results);
            return ExitCodes.Ok;
        });
    }

    /// <summary><c>fastrmp scenarios</c>.</summary>
    public static Command CreateList()
    {
        var command = new Command("scenarios", "List the built-in scenarios.");
        command.SetAction(parse =>
        {
            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumn("scenario");
            table.AddColumn("VM type");
            table.AddColumn("what it does");
            table.AddColumn("from");
            foreach (var s in ScenarioCatalog.All)
            {
                table.AddRow(s.Name, "snp", Markup.Escape(s.Description), Markup.Escape(s.Source));
            }

            foreach (var s in TdxScenarioCatalog.All)
            {
                table.AddRow(s.Name, "tdx", Markup.Escape(s.Description), Markup.Escape(s.Source));
            }

            Terminal.For(parse.InvocationConfiguration.Output).Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>fastrmp scenario NAME [--policy P] [--folio 4k|2m|1g] [--guest-size SIZE] [--per-page] [--json FILE] [--html FILE]</c>.</summary>
    public static Command CreateRun()
    {
        var name = CliOptions.OneOf(
            new Argument<string>("name")
            {
                HelpName = "NAME",
                Description = $"The scenario: {string.Join(", ", AllNames)} ('fastrmp scenarios' says what each does and for which VM type).",
            },
            "scenario",
            "the scenarios are",
            AllNames);
        var policy = CliOptions.Policy(tdx: true);
        var folio = CliOptions.Folio("guest_memfd folio size.");
        var guestSize = CliOptions.Size("--guest-size", "snp-boot's guest size, e.g. 64G or 1T, a multiple of the folio size", 16UL << 20, s_maxGuest, defaultText: null);
        var perPage = new Option<bool>("--per-page") { Description = "Fault every page in one by one (the reference path the batched one is checked against; same counts, slower)." };
        var json = new Option<FileInfo?>("--json") { HelpName = "FILE", Description = "Also write the result as JSON to this file." };
        var html = HtmlOption();
        var kernel = CliOptions.ModelKernel();
        var rmpopt = CliOptions.RmpOpt();
        var vmType = CliOptions.VmType(tdx: true);
        var dpamt = new Option<bool>("--dpamt") { Description = "With --vm-type tdx: the host's PAMT is Dynamic PAMT (docs/tdx.md)." };
        var command = new Command("scenario", "Run one scenario under one policy and print every counter ('fastrmp counters' says what each counts).") { name, policy, folio, kernel, rmpopt, vmType, dpamt, guestSize, perPage, json, html };
        command.Validators.Add(result =>
        {
            // The VM type decides which scenarios and policies exist.
            if (!CliOptions.TryGetValue(result, vmType, out var type) || !CliOptions.TryGetValue(result, policy, out var p) || result.GetValue(name) is not { } n || !AllNames.Contains(n))
            {
                return;
            }

            bool tdx = type.Type == Interop.Uapi.KvmVmType.Tdx;
            bool implicitPolicy = result.GetResult(policy) is null or { Implicit: true };
            if (tdx && !TdxScenarioCatalog.All.Any(s => s.Name == n))
            {
                result.AddError($"scenario '{n}' has no TDX version; the TDX scenarios are {string.Join(", ", TdxScenarioCatalog.All.Select(s => s.Name))}.");
            }
            else if (!tdx && !ScenarioCatalog.All.Any(s => s.Name == n))
            {
                result.AddError($"scenario '{n}' is a TDX scenario: add --vm-type tdx.");
            }

            if (tdx && !implicitPolicy && !Engine.Tdx.TdxDesigns.Names.Contains(p))
            {
                result.AddError($"--policy: '{p}' is not a TDX design; with --vm-type tdx use {string.Join(" or ", Engine.Tdx.TdxDesigns.Names)}.");
            }
            else if (!tdx && Engine.Tdx.TdxDesigns.Names.Contains(p))
            {
                result.AddError($"--policy: '{p}' is a TDX design: add --vm-type tdx.");
            }

            if (!tdx && CliOptions.TryGetValue(result, dpamt, out bool d) && d)
            {
                result.AddError("--dpamt: only a TDX host has a PAMT; add --vm-type tdx.");
            }
        });
        command.Validators.Add(result =>
        {
            // The checks that need two values: only snp-boot has a guest size, and it is whole folios, at least one
            // (the rule ScenarioCatalog.Run enforces).
            if (!CliOptions.TryGetValue(result, guestSize, out var size) || size is null || !CliOptions.TryGetValue(result, folio, out var folioSize))
            {
                return;
            }

            ulong bytes = size.Value.Bytes;
            int order = (folioSize ?? FolioSize.Size4K).Order;
            ulong folioBytes = 4096UL << order;
            if (result.GetValue(name) is not ("snp-boot" or "td-boot"))
            {
                result.AddError("--guest-size: only snp-boot and td-boot take a guest size.");
            }
            else if (bytes % folioBytes != 0 || bytes < ScenarioCatalog.GuestBytes(order))
            {
                result.AddError($"--guest-size: {CliOptions.FormatSize(bytes)} is not a multiple of the folio size ({CliOptions.FolioName(order)}) of at least {CliOptions.FormatSize(ScenarioCatalog.GuestBytes(order))}.");
            }
        });
        command.SetAction(parse =>
        {
            string scenario = parse.GetValue(name)!;
            bool tdx = parse.GetValue(vmType).Type == Interop.Uapi.KvmVmType.Tdx;
            string policyName = tdx && parse.GetResult(policy) is null or { Implicit: true } ? Engine.Tdx.TdxDesigns.MergedName : parse.GetValue(policy)!;
            int order = (parse.GetValue(folio) ?? FolioSize.Size4K).Order;
            ulong? bytes = parse.GetValue(guestSize)?.Bytes;
            var k = KvmKernel.Parse(parse.GetValue(kernel)!);
            var hostOptions = new HostOptions(BatchFreshFaults: !parse.GetValue(perPage), Kernel: k, RmpOpt: parse.GetValue(rmpopt)) { DynamicPamt = parse.GetValue(dpamt) };
            var result = tdx
                ? TdxScenarioCatalog.Run(scenario, policyName, order, bytes, hostOptions)
                : ScenarioCatalog.Run(scenario, policyName, order, bytes, hostOptions);

            var table = new Table().Border(TableBorder.Rounded).Title($"{scenario}, {policyName}, folio {CliOptions.FolioName(order)}, kernel {k.Name}{(result.RmpOpt ? ", RMPOPT" : "")}");
            table.AddColumn("counter");
            table.AddColumn(new TableColumn("value").RightAligned());
            table.AddColumn("unit");
            foreach (var (counter, value) in result.Counters)
            {
                string unit = CounterCatalog.TryGet(counter, out var info) ? info.Unit : "";
                table.AddRow(counter, value.ToString("N0", CultureInfo.InvariantCulture), Markup.Escape(unit));
            }

            Terminal.For(parse.InvocationConfiguration.Output).Write(table);
            WriteJson(parse.GetValue(json), [result]);
            WriteHtml(
                parse.GetValue(html),
                $"FastRmp: {scenario}, {policyName}, folio {CliOptions.FolioName(order)}",
                $"fastrmp scenario {scenario}{(tdx ? " --vm-type tdx" : "")} --policy {policyName} --folio {CliOptions.FolioName(order)}{(bytes is { } b ? $" --guest-size {CliOptions.FormatSize(b)}" : "")} ({ReportFile.Version()})",
                [result]);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The workloads SNP and TDX share: the SNP scenario and its TDX counterpart.</summary>
    private static readonly (string Snp, string Tdx)[] s_pairs =
    [
        ("share-4k-keep", "share-4k-keep"), ("share-4k-punch", "share-4k-punch"), ("psmash-roundtrip", "psmash-roundtrip"),
        ("memslots-512", "memslots-512"), ("snp-boot", "td-boot"),
    ];

    /// <summary>
    /// SNP (merged 6.11+: first-use) and TDX (as merged at 4 KiB folios; the huge-page series at 2 MiB) on the same
    /// workloads: the guest's private faults, conversions each way, splits, the guest's retries, and the metadata memory
    /// each vendor needs for the host (docs/tdx.md, "SNP and TDX side by side"). The TDX runs join the results.
    /// </summary>
    private static void WriteSideBySide(IAnsiConsole console, int[] orders, HostOptions options, List<RunResult> results)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("SNP and TDX side by side (docs/tdx.md)");
        foreach (string column in (string[])["workload", "folio", "vendor", "design", "private faults", "to private", "to shared", "splits", "guest retries", "TLB tracks", "metadata"])
        {
            table.AddColumn(column is "workload" or "folio" or "vendor" or "design" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        }

        foreach (int order in orders.Where(o => o != 18))
        {
            string tdxDesign = order == 0 ? Engine.Tdx.TdxDesigns.MergedName : Engine.Tdx.TdxDesigns.HugePagesName;
            foreach (var (snpName, tdxName) in s_pairs)
            {
                var snp = results.First(r => r.Workload == snpName && r.Policy == PolicyKind.FirstUse.Name() && r.FolioOrder == order);
                var tdx = TdxScenarioCatalog.Run(tdxName, tdxDesign, order, null, options);
                results.Add(tdx);
                ulong hostPages = options.HostPages ?? Host.DefaultHostPages(ScenarioCatalog.GuestBytes(order));
                long rmpBytes = (16L << 10) + ((long)((hostPages + (1UL << 18) - 1) & ~((1UL << 18) - 1)) * 16);
                Row(snpName, "SNP", PolicyKind.FirstUse.Name(), snp[CounterCatalog.FaultsPrivate], snp[CounterCatalog.RmpUpdateToPrivate], snp[CounterCatalog.RmpUpdateToShared],
                    snp[CounterCatalog.Psmash], snp[CounterCatalog.RmpNpf], 0, rmpBytes);
                Row(tdxName, "TDX", tdxDesign, tdx[CounterCatalog.FaultsPrivate], tdx[CounterCatalog.TdxPageAug4K] + tdx[CounterCatalog.TdxPageAug2M] + tdx[CounterCatalog.TdxPageAdd],
                    tdx[CounterCatalog.TdxRemove], tdx[CounterCatalog.TdxDemote], tdx[CounterCatalog.TdxAcceptSizeMismatch], tdx[CounterCatalog.TdxTrack], tdx[CounterCatalog.TdxPamtBytes]);
                if ((snpName, tdxName) != s_pairs[^1])
                {
                    table.AddEmptyRow();
                }

                void Row(string workload, string vendor, string design, long faults, long toPrivate, long toShared, long splits, long retries, long tracks, long metadata)
                    => table.AddRow([workload, CliOptions.FolioName(order), vendor, design, .. ((long[])[faults, toPrivate, toShared, splits, retries, tracks]).Select(v => v.ToString("N0", CultureInfo.InvariantCulture)), CliOptions.FormatSize((ulong)metadata)]);
            }
        }

        if (table.Rows.Count > 0)
        {
            console.Write(table);
        }
    }

    private static Option<FileInfo?> HtmlOption() => new("--html")
    {
        HelpName = "FILE",
        Description = "Also write a self-contained HTML report (counters, NPT levels, a map of host memory per run) to this file.",
    };

    private static void WriteHtml(FileInfo? file, string title, string source, IReadOnlyList<RunResult> results)
    {
        if (file is not null)
        {
            ReportFile.Write(file, "--html", w => HtmlReport.Write(w, title, source, [.. results.Select(ReportRun.From)]));
        }
    }

    private static Table NewTable(string title)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(title);
        table.AddColumn("scenario");
        table.AddColumn("policy");
        foreach (var counter in Columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(counter.Title)).RightAligned());
        }

        return table;
    }

    /// <summary>
    /// JSON: an array of <c>{"scenario", "policy", "folio", "kernel", "rmpopt", "counters": {name: value}}</c>; the counter
    /// names are those of the catalog (docs/cli.md).
    /// </summary>
    private static void WriteJson(FileInfo? file, IReadOnlyList<RunResult> results)
    {
        if (file is not null)
        {
            IReadOnlyList<ScenarioRunJson> runs = [.. results.Select(r => new ScenarioRunJson(r.Workload, r.Policy, CliOptions.FolioName(r.FolioOrder), r.Kernel, r.RmpOpt, ReportFile.Counters(r.Counters)))];
            ReportFile.WriteJson(file, "--json", runs, ReportJsonContext.Default.IReadOnlyListScenarioRunJson);
        }
    }
}
