namespace FastRmp.Interop.Tracing;

/// <content>Text inputs.</content>
public static partial class TraceFile
{
    private static TextTraceReader OpenText(string path, TraceFileKind kind) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), kind, path);

    /// <summary>Opens text already in memory (tests, fuzzing); the kind is detected from the content.</summary>
    public static TextTraceReader OpenText(ReadOnlyMemory<byte> text, string name = "<memory>")
    {
        var kind = Detect(text.Span[..Math.Min(text.Length, 64 * 1024)], name);
        if (kind is TraceFileKind.TraceDat or TraceFileKind.PerfData)
        {
            throw new TraceFormatException($"{name}: binary {(kind == TraceFileKind.TraceDat ? "trace.dat" : "perf.data")}, not text");
        }

        return new TextTraceReader(new MemoryStream(text.ToArray(), writable: false), kind, name);
    }
}
