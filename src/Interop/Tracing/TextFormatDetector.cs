using System.Text;
using System.Text.RegularExpressions;

namespace FastRmp.Interop.Tracing;

/// <summary>Tells tracefs, trace-cmd report and perf script text apart from their first lines.</summary>
/// <remarks>
/// Source: the line grammars of traces.md section 1.4 (tested there on 30 text samples). The first line matching a
/// grammar decides; prose before it (mail quotes, shell prompts) is allowed and later reported as skipped lines.
/// Latency format (<c>options/latency-format</c>, <c>trace-cmd report -l</c>) is refused with a message.
/// </remarks>
internal static partial class TextFormatDetector
{
    public static TraceFileKind Detect(ReadOnlySpan<byte> head, string name)
    {
        string text = Encoding.UTF8.GetString(head);
        bool tracefsHeader = false, reportHeader = false;
        int lineNo = 0;
        // the empty "line" after a final newline is not a line of the input (messages count lines)
        var lines = text.AsSpan();
        lines = lines.EndsWith("\r\n") ? lines[..^2] : lines.EndsWith('\n') ? lines[..^1] : lines;
        foreach (var raw in lines.EnumerateLines())
        {
            lineNo++;
            if (lineNo > 400)
            {
                break;
            }

            var line = raw.TrimEnd();
            if (line.IsEmpty)
            {
                continue;
            }

            if (line.StartsWith("# tracer:"))
            {
                tracefsHeader = true;
                continue;
            }

            if (line.Contains("latency trace v", StringComparison.Ordinal))
            {
                throw Latency(name, lineNo);
            }

            if (line.StartsWith("cpus=") || line.StartsWith("version =") || (line.StartsWith("CPU ") && line.EndsWith("is empty")))
            {
                reportHeader = true;
                continue;
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
                return tracefsHeader ? TraceFileKind.Tracefs
                    : reportHeader ? TraceFileKind.TraceCmdReport
                    : FlagsColumn().IsMatch(line) ? TraceFileKind.Tracefs : TraceFileKind.TraceCmdReport;
            }

            if (LatencyLine().IsMatch(line))
            {
                throw Latency(name, lineNo);
            }
        }

        throw new TraceFormatException(tracefsHeader
            ? $"{name}: tracefs text without readable event lines (raw, hex or bin output options are not supported; turn them off)"
            : $"{name}: not a trace.dat, tracefs trace, trace-cmd report or perf script text (no event line in the first {Math.Min(lineNo, 400)} lines)");
    }

    private static TraceFormatException Latency(string name, int lineNo) =>
        new($"{name}: line {lineNo}: latency-format text is not supported (it drops the CPU column and absolute timestamps); capture without options/latency-format or 'report -l'");

    [GeneratedRegex(@"^\s*.*\S\s+\d+(?:/\d+)?\s+\[\d+\]\s+\d+\.\d+:\s+[^\s:]+:[^\s:]+:")]
    private static partial Regex PerfLine();

    [GeneratedRegex(@"^\s*.*-\d+\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[\d+\]\s+(?:\S{4,5}\s+)?\d+(?:\.\d+)?:\s+(?:\([+-]?\d+\)\s+)?[^\s:]+:")]
    private static partial Regex FtraceLine();

    [GeneratedRegex(@"\]\s+\S{4,5}\s+\d+(?:\.\d+)?:")]
    private static partial Regex FlagsColumn();

    [GeneratedRegex(@"^.{8}-\d+\s+\d+\S{4,5}\s+\d+(?:\.\d+)?(?:us)?[ +!#*@$>]?:\s+[^\s:]+:")]
    private static partial Regex LatencyLine();
}
