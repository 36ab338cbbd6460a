namespace FastRmp.Interop.Tracing;

/// <content>Text inputs.</content>
public static partial class TraceFile
{
    private static ITraceReader OpenText(string path, TraceFileKind kind) =>
        throw new TraceFormatException($"{path}: {kind} text is not supported yet");
}
