using FastRmp.Export.Perfetto;

namespace FastRmp.Cli.Commands;

/// <summary>The <c>--perfetto FILE</c> option of <c>events</c>, <c>replay</c> and <c>compare</c> (docs/perfetto.md).</summary>
internal static class PerfettoOutput
{
    public const string Name = "--perfetto";

    public static System.CommandLine.Option<FileInfo?> Option(string description)
        => new(Name) { HelpName = "FILE.pftrace", Description = description };

    /// <summary>Creates (or replaces) the file before the trace is read, so a bad path fails at once.</summary>
    /// <exception cref="CliInputException">The file cannot be created (a directory, a missing folder, no permission).</exception>
    public static PerfettoTrace Create(FileInfo file)
    {
        if (Directory.Exists(file.FullName))
        {
            throw new CliInputException($"{Name}: {file.FullName} is a directory.");
        }

        try
        {
            return PerfettoTrace.Create(file.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{Name}: cannot write {file.FullName}: {ex.Message.ReplaceLineEndings(" ")}");
        }
    }
}
