using Spectre.Console;

namespace FastRmp.Cli;

/// <summary>Spectre.Console over a given writer: tables without colour when the output is not a terminal.</summary>
internal static class Terminal
{
    public static IAnsiConsole For(TextWriter output)
    {
        bool isTerminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = isTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        console.Profile.Width = isTerminal ? Math.Max(Console.WindowWidth, 120) : 200;
        return console;
    }
}
