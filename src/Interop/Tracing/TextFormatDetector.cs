using System.Text;
using System.Text.RegularExpressions;

namespace FastRmp.Interop.Tracing;

/// <summary>Tells tracefs, trace-cmd report and perf script text apart from their first lines.</summary>
/// <remarks>Source: the line grammars of traces.md section 1.4 (tested there on 30 text samples).</remarks>
internal static partial class TextFormatDetector
{
    public static TraceFileKind Detect(ReadOnlySpan<byte> head, string name)
    {
        string text = Encoding.UTF8.GetString(head);
        int lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = raw.TrimEnd();
            if (line.IsEmpty)
            {
                continue;
            }

            if (line.StartsWith("# tracer:"))
            {
                return TraceFileKind.Tracefs;
            }

            if (line.StartsWith("cpus=") || line.StartsWith("version =") || (line.StartsWith("CPU ") && line.EndsWith("is empty")))
            {
                return TraceFileKind.TraceCmdReport;
            }

            if (line[0] == '#')
            {
                continue;
            }

            if (PerfLine().IsMatch(line))
            {
                return TraceFileKind.PerfScript;
            }

            if (FtraceLine().IsMatch(line))
            {
                // trace_pipe and trace-cmd report share the grammar; kernel text has the 4/5-char flags column.
                return FlagsColumn().IsMatch(line) ? TraceFileKind.Tracefs : TraceFileKind.TraceCmdReport;
            }

            if (lineNo > 200)
            {
                break;
            }
        }

        throw new TraceFormatException($"{name}: not a trace.dat, tracefs trace, trace-cmd report or perf script text (no event line in the first lines)");
    }

    [GeneratedRegex(@"^\s*.*\S\s+\d+(?:/\d+)?\s+\[\d+\]\s+\d+\.\d+:\s+[^\s:]+:[^\s:]+:")]
    private static partial Regex PerfLine();

    [GeneratedRegex(@"^\s*.*-\d+\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[\d+\]\s+(?:\S{4,5}\s+)?\d+(?:\.\d+)?:\s+(?:\([+-]?\d+\)\s+)?[^\s:]+:")]
    private static partial Regex FtraceLine();

    [GeneratedRegex(@"\]\s+\S{4,5}\s+\d+(?:\.\d+)?:")]
    private static partial Regex FlagsColumn();
}
