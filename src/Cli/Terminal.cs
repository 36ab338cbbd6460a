using Spectre.Console;

namespace FastRmp.Cli;

/// <summary>Spectre.Console over a given writer: tables without colour when the output is not a terminal.</summary>
/// <remarks>
/// The width is the terminal's; output that is not a terminal gets <c>COLUMNS</c> when it is set (as <c>ls</c> and
/// friends do), else 200 columns, so files and pipes keep whole rows.
/// </remarks>
internal static class Terminal
{
    /// <summary>The narrowest width laid out for: below it Spectre cannot draw the tables at all.</summary>
    public const int MinWidth = 40;

    public static IAnsiConsole For(TextWriter output)
    {
        bool isTerminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = isTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        int columns = isTerminal ? Console.WindowWidth
            : int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int set) && set > 0 ? set : 200;
        console.Profile.Width = Math.Max(columns, MinWidth);
        return console;
    }
}
