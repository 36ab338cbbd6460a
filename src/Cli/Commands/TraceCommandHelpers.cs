using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary>Opening trace files for the trace commands, with errors turned into one-line input errors.</summary>
internal static class TraceCommandHelpers
{
    public static ITraceReader Open(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliInputException($"{path}: is a directory, not a trace file");
        }

        if (!File.Exists(path))
        {
            throw new CliInputException($"{path}: no such file");
        }

        try
        {
            return TraceFile.OpenReader(path);
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{path}: cannot read it ({ex.Message})");
        }
    }
}
