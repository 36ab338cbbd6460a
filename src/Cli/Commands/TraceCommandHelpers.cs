using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary>Opening trace files for the trace commands, with errors turned into one-line input errors.</summary>
internal static class TraceCommandHelpers
{
    public static ITraceReader Open(string path)
    {
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
        catch (IOException ex)
        {
            throw new CliInputException($"{path}: {ex.Message}");
        }
    }
}
