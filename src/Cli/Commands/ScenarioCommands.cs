using System.CommandLine;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Hosting;
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
    /// <summary>The counters the comparison table shows, with their column titles.</summary>
    private static readonly (string Counter, string Title)[] Columns =
    [
        ("rmpupdate_4k", "RMPUPDATE 4K"), ("rmpupdate_2m", "RMPUPDATE 2M"), ("psmash", "PSMASH"), ("rmp_npf", "extra #NPF"),
        ("memory_fault_exits", "mem exits"), ("hypercall_exits", "PSC exits"), ("npt_4k", "NPT 4K"), ("npt_2m", "NPT 2M"),
        ("rmp_4k_entries", "RMP 4K"), ("rmp_2m_entries", "RMP 2M"), ("faults_private", "faults"), ("rmp_lookups", "RMP lookups"),
        ("launch_update_failures", "launch fails"),
    ];

    /// <summary>The root command's own action: the comparison of every policy on every scenario.</summary>
    public static void AddCompareAction(RootCommand root)
    {
        var folio = FolioOption("The folio sizes to compare (default: all three).");
        folio.DefaultValueFactory = null;
        var json = new Option<FileInfo?>("--json") { Description = "Also write every result as JSON to this file." };
        var html = HtmlOption();
        root.Options.Add(folio);
        root.Options.Add(json);
        root.Options.Add(html);
        root.SetAction(parse =>
        {
            string? only = parse.GetValue(folio);
            var orders = only is null ? new[] { 0, 9, 18 } : [FolioOrder(only)];
            var results = new List<RunResult>();
            var console = Terminal.For(parse.InvocationConfiguration.Output);
            console.Write(new Markup("[bold]FastRmp[/]: the 2023 guest_memfd debate, counted (docs/policies.md explains every value)\n"));
            foreach (int order in orders)
            {
                var table = NewTable($"folio {FolioName(order)}");
                foreach (var scenario in ScenarioCatalog.All)
                {
                    foreach (string policy in PolicyCatalog.Names)
                    {
                        var result = ScenarioCatalog.Run(scenario.Name, policy, order);
                        results.Add(result);
                        table.AddRow([scenario.Name, policy, .. Columns.Select(c => result[c.Counter].ToString("N0", System.Globalization.CultureInfo.InvariantCulture))]);
                    }

                    if (scenario != ScenarioCatalog.All[^1])
                    {
                        table.AddEmptyRow();
                    }
                }

                console.Write(table);
            }

            WriteJson(parse.GetValue(json), results);
            WriteHtml(
                parse.GetValue(html),
                "FastRmp: the 2023 guest_memfd debate, counted",
                $"fastrmp{(only is null ? "" : $" --folio {only}")}: every built-in scenario under every policy ({ReportFile.Version()}; docs/policies.md explains every value)",
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
            table.AddColumn("what it does");
            table.AddColumn("from");
            foreach (var s in ScenarioCatalog.All)
            {
                table.AddRow(s.Name, Markup.Escape(s.Description), Markup.Escape(s.Source));
            }

            Terminal.For(parse.InvocationConfiguration.Output).Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>fastrmp scenario NAME [--policy P] [--folio 4k|2m|1g] [--guest-size SIZE] [--per-page] [--json FILE] [--html FILE]</c>.</summary>
    public static Command CreateRun()
    {
        var name = new Argument<string>("name") { Description = "The scenario (see 'fastrmp scenarios')." };
        var policy = new Option<string>("--policy") { Description = $"The policy: {string.Join(", ", PolicyCatalog.Names)}.", DefaultValueFactory = _ => "first-use" };
        var folio = FolioOption("guest_memfd folio size.");
        var guestSize = new Option<string?>("--guest-size") { Description = "snp-boot's guest size, e.g. 64G or 1T (16 MiB to 1 TiB)." };
        var perPage = new Option<bool>("--per-page") { Description = "Fault every page in one by one (the reference path the batched one is checked against; same counts, slower)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the result as JSON to this file." };
        var html = HtmlOption();
        var command = new Command("scenario", "Run one scenario under one policy and print every counter.") { name, policy, folio, guestSize, perPage, json, html };
        command.SetAction(parse =>
        {
            string scenario = parse.GetValue(name)!;
            string policyName = parse.GetValue(policy)!;
            if (ScenarioCatalog.All.All(s => s.Name != scenario))
            {
                throw new CliInputException($"unknown scenario '{scenario}'; the scenarios are {string.Join(", ", ScenarioCatalog.All.Select(s => s.Name))}.");
            }

            if (!PolicyCatalog.Names.Contains(policyName))
            {
                throw new CliInputException($"--policy: unknown policy '{policyName}'; the policies are {string.Join(", ", PolicyCatalog.Names)}.");
            }

            int order = FolioOrder(parse.GetValue(folio)!);
            ulong? bytes = parse.GetValue(guestSize) is { } text ? ParseSize(text) : null;
            RunResult result;
            try
            {
                result = ScenarioCatalog.Run(scenario, policyName, order, bytes, parse.GetValue(perPage) ? new HostOptions(BatchFreshFaults: false) : null);
            }
            catch (ArgumentException ex)
            {
                throw new CliInputException(ex.Message.Split(" (Parameter", 2)[0]);
            }

            var table = new Table().Border(TableBorder.Rounded).Title($"{scenario}, {policyName}, folio {FolioName(order)}");
            table.AddColumn("counter");
            table.AddColumn(new TableColumn("value").RightAligned());
            foreach (var (counter, value) in result.Counters)
            {
                table.AddRow(counter, value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
            }

            Terminal.For(parse.InvocationConfiguration.Output).Write(table);
            WriteJson(parse.GetValue(json), [result]);
            WriteHtml(
                parse.GetValue(html),
                $"FastRmp: {scenario}, {policyName}, folio {FolioName(order)}",
                $"fastrmp scenario {scenario} --policy {policyName} --folio {FolioName(order)}{(bytes is { } b ? $" --guest-size {parse.GetValue(guestSize)}" : "")} ({ReportFile.Version()})",
                [result]);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Option<FileInfo?> HtmlOption() => new("--html")
    {
        Description = "Also write a self-contained HTML report (counters, NPT levels, a map of host memory per run) to this file.",
    };

    private static void WriteHtml(FileInfo? file, string title, string source, IReadOnlyList<RunResult> results)
    {
        if (file is not null)
        {
            ReportFile.Write(file, "--html", w => HtmlReport.Write(w, title, source, [.. results.Select(ReportRun.From)]));
        }
    }

    private static Option<string> FolioOption(string description) => new("--folio")
    {
        Description = description + " One of 4k (upstream), 2m (THP series), 1g (HugeTLB series).",
        DefaultValueFactory = _ => "4k",
    };

    private static Table NewTable(string title)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(title);
        table.AddColumn("scenario");
        table.AddColumn("policy");
        foreach (var (_, header) in Columns)
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }

        return table;
    }

    internal static int FolioOrder(string folio) => folio.ToLowerInvariant() switch
    {
        "4k" => 0,
        "2m" => 9,
        "1g" => 18,
        _ => throw new CliInputException($"--folio: '{folio}' is not a folio size (4k, 2m or 1g)."),
    };

    internal static string FolioName(int order) => order switch { 0 => "4k", 9 => "2m", _ => "1g" };

    /// <summary>Sizes such as 64G, 1T, 512M (binary units).</summary>
    internal static ulong ParseSize(string text, string option = "--guest-size")
    {
        text = text.Trim();
        int shift = char.ToUpperInvariant(text.Length > 0 ? text[^1] : ' ') switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        string digits = shift == 0 ? text : text[..^1];
        if (!ulong.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong value) || value > ulong.MaxValue >> shift)
        {
            throw new CliInputException($"{option}: '{text}' is not a size (e.g. 64G or 1T).");
        }

        return value << shift;
    }

    /// <summary>
    /// JSON: an array of <c>{"scenario", "policy", "folio", "counters": {name: value}}</c>; the counter names are
    /// those of docs/policies.md.
    /// </summary>
    private static void WriteJson(FileInfo? file, IReadOnlyList<RunResult> results)
    {
        if (file is null)
        {
            return;
        }

        ReportFile.WriteJson(file, "--json", w =>
        {
            w.WriteStartArray();
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("scenario", r.Workload);
                w.WriteString("policy", r.Policy);
                w.WriteString("folio", FolioName(r.FolioOrder));
                ReportFile.WriteCounters(w, r.Counters);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }
}
