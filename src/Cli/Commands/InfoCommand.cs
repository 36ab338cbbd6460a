using System.CommandLine;
using System.Globalization;
using System.Text;
using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp info FILE</c>: reads every record and summarises the trace.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A trace.dat (v6/v7), tracefs trace/trace_pipe text, trace-cmd report, perf script output or perf.data (file or pipe mode); '-' reads standard input; gzip, xz and zstd files are decompressed." };
        var command = new Command("info", "Read every record and print the file version, compression, CPUs, clock, time span, event counts, lost events, damage and formats.")
        {
            file,
        };
        command.SetAction(parse =>
        {
            parse.InvocationConfiguration.Output.Write(Summarize(parse.GetValue(file)!));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string Summarize(string path)
    {
        using var reader = TraceCommandHelpers.Open(path);
        var counts = new Dictionary<EventFormat, long>();
        long records = 0;
        ulong first = 0, last = 0;
        var cpus = new SortedSet<int>();
        try
        {
            while (reader.MoveNext(out var r))
            {
                if (records == 0)
                {
                    first = r.Timestamp;
                }

                records++;
                last = Math.Max(last, r.Timestamp);
                cpus.Add(r.Cpu);
                ref long c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, r.Format, out _);
                c++;
            }
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }

        var info = reader.Info;
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"file:        {info.Path}\n");
        sb.Append(ci, $"format:      {Describe(info.Kind)}, version {info.Version}\n");
        sb.Append(ci, $"compression: {info.Compression}\n");
        sb.Append(ci, $"cpus:        {(info.CpuCount > 0 ? info.CpuCount : cpus.Count)} (with records: {(cpus.Count == 0 ? "none" : string.Join(",", cpus))})\n");
        sb.Append(ci, $"clock:       {(info.Clock.Length == 0 ? "unknown" : info.Clock)}\n");
        sb.Append(ci, $"records:     {records}\n");
        if (records > 0)
        {
            sb.Append(ci, $"time span:   {Ts(first)} .. {Ts(last)} ({(last - first) / 1e9:F6} s)\n");
        }

        sb.Append(ci, $"lost events: {reader.Stats.LostEvents} (in {reader.Stats.LostEventMarks} lost-event marks)\n");
        sb.Append(ci, $"damaged:     {reader.Stats.DamageCount}\n");
        foreach (var d in reader.Stats.Damage)
        {
            sb.Append(ci, $"  {d}\n");
        }

        if (reader.Stats.ThrottleRecords > 0)
        {
            sb.Append(ci, $"throttled:   {reader.Stats.ThrottleRecords} THROTTLE/UNTHROTTLE records (perf paused an event over its rate)\n");
        }

        if (reader.Stats.UnorderedRecords > 0)
        {
            sb.Append(ci, $"unordered:   {reader.Stats.UnorderedRecords} records older than one already delivered\n");
        }

        if (reader.Stats.UnknownEventRecords > 0)
        {
            sb.Append(ci, $"unknown IDs: {reader.Stats.UnknownEventRecords} records skipped (no format)\n");
        }

        foreach (string error in reader.Stats.FormatErrors)
        {
            sb.Append(ci, $"  unreadable {error}\n");
        }

        sb.Append("events:\n");
        foreach (var (format, n) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.FullName, StringComparer.Ordinal))
        {
            sb.Append(ci, $"  {n,10}  {format.FullName}\n");
        }

        var systems = reader.Formats.All.GroupBy(f => f.System).OrderBy(g => g.Key, StringComparer.Ordinal);
        sb.Append(ci, $"formats:     {reader.Formats.All.Count} ({string.Join(", ", systems.Select(g => $"{g.Key} {g.Count()}"))})\n");
        return sb.ToString();
    }

    private static string Describe(TraceFileKind kind) => kind switch
    {
        TraceFileKind.TraceDat => "trace-cmd trace.dat",
        TraceFileKind.Tracefs => "tracefs trace text",
        TraceFileKind.TraceCmdReport => "trace-cmd report text",
        TraceFileKind.PerfData => "perf.data",
        _ => "perf script text",
    };

    internal static string Ts(ulong ns) => string.Create(CultureInfo.InvariantCulture, $"{ns / 1_000_000_000}.{ns % 1_000_000_000:D9}");
}
