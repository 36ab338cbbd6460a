using System.CommandLine;
using System.Globalization;
using System.Text;
using FastRmp.Cli.Options;
using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp info FILE</c>: reads every record and summarises the trace.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A trace.dat (v6/v7), tracefs trace/trace_pipe text, trace-cmd report, perf script output or perf.data (file or pipe mode); '-' reads standard input; gzip, xz and zstd files are decompressed." };
        var threads = CliOptions.Threads();
        var command = new Command("info", "Read every record and print the file version, compression, CPUs, clock, time span, event counts, lost events, damage and formats.")
        {
            file, threads,
        };
        command.SetAction(parse =>
        {
            parse.InvocationConfiguration.Output.Write(Summarize(parse.GetValue(file)!, parse.GetValue(threads)));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string Summarize(string path, int threads = 0)
    {
        using var reader = TraceCommandHelpers.Open(path);
        TraceScanResult<Tally> scan;
        try
        {
            scan = TraceScan.Run(reader, () => new Tally(), static (t, in r) => t.Add(r), threads);
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }

        var counts = new Dictionary<EventFormat, long>(ReferenceEqualityComparer.Instance);
        var cpus = new SortedSet<int>();
        long records = 0;
        ulong first = ulong.MaxValue, last = 0;
        foreach (var t in scan.Parts)
        {
            records += t.Records;
            first = Math.Min(first, t.First);
            last = Math.Max(last, t.Last);
            cpus.UnionWith(t.Cpus);
            foreach (var (format, n) in t.Counts())
            {
                ref long c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, format, out _);
                c += n;
            }
        }

        var stats = scan.Stats;
        var sources = TraceFile.ReportSources(reader);
        var info = reader.Info;
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"file:        {info.Path}\n");
        sb.Append(ci, $"format:      {Describe(info.Kind)}, version {info.Version}\n");
        sb.Append(ci, $"compression: {info.Compression}\n");
        foreach (var guest in TraceFile.GuestsOf(reader))
        {
            sb.Append(ci, $"guest:       {guest.Name} (trace id 0x{guest.TraceId:x}): {string.Join(", ", guest.Vcpus.Select(v => $"vCPU {v.Vcpu} = host pid {v.HostPid}"))}\n");
        }

        if (sources.Count > 0)
        {
            sb.Append(ci, $"files:       {sources.Count} (trace-cmd report -i: {string.Join(", ", sources)}; replay takes each as its own host)\n");
        }

        sb.Append(ci, $"cpus:        {(info.CpuCount > 0 ? info.CpuCount : cpus.Count)} (with records: {(cpus.Count == 0 ? "none" : string.Join(",", cpus))})\n");
        sb.Append(ci, $"clock:       {(info.Clock.Length == 0 ? "unknown" : info.Clock)}\n");
        sb.Append(ci, $"records:     {records}\n");
        if (records > 0)
        {
            sb.Append(ci, $"time span:   {Ts(first)} .. {Ts(last)} ({(last - first) / 1e9:F6} s)\n");
        }

        sb.Append(ci, $"lost events: {stats.LostEvents} (in {stats.LostEventMarks} lost-event marks)\n");
        sb.Append(ci, $"damaged:     {stats.DamageCount}\n");
        foreach (var d in stats.Damage)
        {
            sb.Append(ci, $"  {d}\n");
        }

        if (stats.ThrottleRecords > 0)
        {
            sb.Append(ci, $"throttled:   {stats.ThrottleRecords} THROTTLE/UNTHROTTLE records (perf paused an event over its rate)\n");
        }

        if (stats.UnorderedRecords > 0)
        {
            sb.Append(ci, $"unordered:   {stats.UnorderedRecords} records older than one already delivered\n");
        }

        if (stats.UnknownEventRecords > 0)
        {
            sb.Append(ci, $"unknown IDs: {stats.UnknownEventRecords} records skipped (no format)\n");
        }

        foreach (string error in stats.FormatErrors)
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

    /// <summary>One part's counts: records per format, CPUs, the first record's timestamp (in the part's order) and the latest.</summary>
    private sealed class Tally
    {
        private const int DirectIds = 4096;
        private readonly EventFormat?[] _byId = new EventFormat?[DirectIds];
        private readonly long[] _countById = new long[DirectIds];
        private readonly Dictionary<EventFormat, long> _others = new(ReferenceEqualityComparer.Instance);
        private int _lastCpu = -1;

        public HashSet<int> Cpus { get; } = [];

        public long Records { get; private set; }

        public ulong First { get; private set; } = ulong.MaxValue;

        public ulong Last { get; private set; }

        public void Add(in TraceRecord r)
        {
            if (Records++ == 0)
            {
                First = r.Timestamp;
            }

            Last = Math.Max(Last, r.Timestamp);
            if (r.Cpu != _lastCpu)
            {
                Cpus.Add(r.Cpu);
                _lastCpu = r.Cpu;
            }

            // A binary trace's formats have small numeric IDs: count in an array slot (the format is checked, since
            // text input's formats have no ID of their own); anything else in a dictionary.
            var format = r.Format;
            int id = format.Id;
            if ((uint)id < DirectIds && (ReferenceEquals(_byId[id], format) || (_byId[id] is null && (_byId[id] = format) is not null)))
            {
                _countById[id]++;
            }
            else
            {
                ref long c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_others, format, out _);
                c++;
            }
        }

        public IEnumerable<KeyValuePair<EventFormat, long>> Counts()
        {
            for (int id = 0; id < DirectIds; id++)
            {
                if (_byId[id] is { } f)
                {
                    yield return new(f, _countById[id]);
                }
            }

            foreach (var kv in _others)
            {
                yield return kv;
            }
        }
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
