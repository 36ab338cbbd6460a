using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary>Opening trace files (or standard input, <c>-</c>) for the trace commands, with errors turned into one-line input errors.</summary>
internal static class TraceCommandHelpers
{
    /// <summary>The argument that means standard input.</summary>
    public const string StandardInput = "-";

    /// <summary>
    /// Opens <paramref name="path"/> (or standard input for <c>-</c>): regular files in place, pipes and compressed
    /// files as streams (a trace.dat among them spooled to a temporary file).
    /// </summary>
    public static ITraceReader Open(string path)
    {
        if (path == StandardInput)
        {
            // Reading a terminal would wait for typed input that never is a trace: say what '-' is for instead.
            return Console.IsInputRedirected
                ? Guard(path, TraceFile.OpenStandardInput)
                : throw new CliInputException("-: standard input is a terminal; pipe a trace into it ('trace-cmd report -R x.dat | fastrmp replay -') or give a file");
        }

        if (Directory.Exists(path))
        {
            throw new CliInputException($"{path}: is a directory, not a trace file");
        }

        if (!File.Exists(path))
        {
            throw new CliInputException($"{path}: no such file");
        }

        return Guard(path, () => TraceFile.OpenReader(path));
    }

    /// <summary>
    /// The files of a several-file <c>trace-cmd report -i a.dat -i b.dat</c> text at <paramref name="path"/> (empty for
    /// any other input, and for standard input, which can be read once).
    /// </summary>
    public static IReadOnlyList<string> ReportSources(string path)
    {
        if (path == StandardInput || !File.Exists(path) || !IsSeekable(path))
        {
            // Errors about the input are the replay's to report, after its options' own; a pipe (/dev/stdin, a FIFO)
            // can be read once, and that read is the replay's.
            return [];
        }

        using var reader = Open(path);
        if (reader.Info.Kind != TraceFileKind.TraceCmdReport)
        {
            return [];
        }

        try
        {
            reader.MoveNext(out _);
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }

        return TraceFile.ReportSources(reader);
    }

    private static bool IsSeekable(string path)
    {
        try
        {
            using var stream = new FileStream(File.OpenHandle(path), FileAccess.Read, bufferSize: 0);
            return stream.CanSeek;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// The input's size in bytes for progress, or 0 when progress cannot be told from it (standard input, a pipe, a
    /// compressed file whose decompressed size is unknown).
    /// </summary>
    public static long LengthForProgress(string path)
    {
        if (path == StandardInput)
        {
            return 0;
        }

        try
        {
            using var handle = File.OpenHandle(path);
            Span<byte> head = stackalloc byte[8];
            int n = RandomAccess.Read(handle, head, 0);
            return TraceCompression.Detect(head[..n]) == TraceCompressionKind.None ? RandomAccess.GetLength(handle) : 0;
        }
        catch (NotSupportedException)
        {
            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static ITraceReader Guard(string path, Func<ITraceReader> open)
    {
        try
        {
            return open();
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
