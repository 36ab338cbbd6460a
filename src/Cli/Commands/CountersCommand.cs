using System.CommandLine;
using FastRmp.Cli.Reports;
using FastRmp.Engine.Metrics;
using Spectre.Console;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp counters [--json]</c>: the counter catalog, what every counter of a result counts and where.</summary>
internal static class CountersCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };
        var command = new Command("counters", "List every counter a scenario or replay reports: name, title, unit, what it counts and where the kernel or hardware counts it.")
        {
            json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                IReadOnlyList<CounterJson> counters = [.. CounterCatalog.All.Select(c => new CounterJson(c.Name, c.Title, c.Unit, c.Description, c.Source, c.Set switch { CounterSet.Model => "model", CounterSet.RmpOpt => "rmpopt", CounterSet.Tdx => "tdx", _ => "replay" }))];
                output.WriteLine(System.Text.Json.JsonSerializer.Serialize(counters, ReportJsonContext.Default.IReadOnlyListCounterJson));
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).Title("counters (scenarios have the model's; a host with --rmpopt adds the RMPOPT ones; replay and compare add the replay's)");
            table.AddColumn("counter");
            table.AddColumn("title");
            table.AddColumn("unit");
            table.AddColumn("what it counts");
            table.AddColumn("where (kernel 6.18, or the model)");
            foreach (var set in CounterCatalog.All.GroupBy(c => c.Set))
            {
                if (set.Key != CounterSet.Model)
                {
                    table.AddEmptyRow();
                }

                foreach (var c in set)
                {
                    table.AddRow(Markup.Escape(c.Name), Markup.Escape(c.Title), Markup.Escape(c.Unit), Markup.Escape(c.Description), Markup.Escape(c.Source));
                }
            }

            Terminal.For(output).Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }
}
