using System.CommandLine;
using FastRmp.Cli.Commands;

namespace FastRmp.Cli;

/// <summary>The <c>fastrmp</c> command line: builds the command tree and runs it against given writers.</summary>
internal static class CliApp
{
    /// <summary>Runs the command line; returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("FastRmp: the AMD SEV-SNP host memory path (RMP, guest_memfd, KVM private faults) as a fast, exact model.")
        {
            LayoutsCommand.Create(),
            InfoCommand.Create(),
            EventsCommand.Create(),
            ScenarioCommands.CreateList(),
            ScenarioCommands.CreateRun(),
            ReplayCommands.CreateReplay(),
            ReplayCommands.CreateCompare(),
            CountersCommand.Create(),
            ExportCommand.Create(),
            SqlCommand.Create(),
        };
        ScenarioCommands.AddCompareAction(root);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine($"fastrmp: {error.Message}");
            }

            stderr.WriteLine("Run 'fastrmp --help' for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (CliUsageException ex)
        {
            stderr.WriteLine($"fastrmp: {ex.Message}");
            stderr.WriteLine("Run 'fastrmp --help' for usage.");
            return ExitCodes.Usage;
        }
        catch (CliInputException ex)
        {
            stderr.WriteLine($"fastrmp: {ex.Message}");
            return ExitCodes.InputError;
        }
        catch (IOException ex)
        {
            // A full disk or device (> /dev/full), a closed pipe, an unreadable file: one line, not a stack trace.
            stderr.WriteLine($"fastrmp: {ex.Message.TrimEnd('.', ' ')} (I/O error; what was written before it may be incomplete)");
            return ExitCodes.InputError;
        }
    }
}

/// <summary>Bad input that the command reports on one line, exiting with <see cref="ExitCodes.InputError"/>.</summary>
internal sealed class CliInputException(string message) : Exception(message);

/// <summary>
/// A command line that parses but does not fit together in a way only the command can see (e.g. options the engine
/// rejects in combination), reported like a parse error and exiting with <see cref="ExitCodes.Usage"/>.
/// </summary>
internal sealed class CliUsageException(string message) : Exception(message);
