using System.Globalization;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Export.Perfetto;

/// <summary>
/// A trace's records as Perfetto track events: one instant per record on its thread's track (<c>ThreadDescriptor</c>
/// tid = the record's pid, pid = its tgid when the input says it, else the tid), named by the event, in the event's
/// system as category, with the record's CPU (<c>common_cpu</c>) and every field as debug annotations by name.
/// </summary>
/// <remarks>
/// Perfetto imports typed ftrace protos only for the events it has compiled in, and KVM's are mostly not among them;
/// a track event carries any event with its fields by name and shows on the thread that recorded it. Numbers keep
/// their type (signed fields as <c>int_value</c>, 64-bit and pointer fields as <c>pointer_value</c>, shown in hex,
/// others as <c>uint_value</c>), strings as <c>string_value</c>, arrays as arrays. Text input gives KVM events their
/// tracepoint field names (as <c>fastrmp events --format jsonl</c> does), other payloads made of <c>name=value</c>
/// pairs those pairs, and any other payload as one <c>text</c> argument. Per format the interned ids are worked out
/// once. Threads past <see cref="MaxThreads"/> share one track, so memory stays bounded whatever the input.
/// </remarks>
internal sealed class RecordEvents(PerfettoWriter writer)
{
    /// <summary>Threads given their own track; the records of any further thread go on one shared track.</summary>
    public const int MaxThreads = 1 << 16;

    private readonly Dictionary<EventFormat, FormatPlan> _plans = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<int, ThreadTrack> _threads = [];
    private readonly Dictionary<KvmEventKind, ulong[]> _kvmNames = [];
    private readonly KvmEventDecoder _decoder = new();
    private EventFormat? _lastFormat;
    private FormatPlan? _lastPlan;
    private ThreadTrack? _lastThread;
    private ulong _otherThreads;
    private ulong _cpuName;

    /// <summary>Records written.</summary>
    public long Records { get; private set; }

    /// <summary>The track of thread <paramref name="tid"/> (described on first use, again when its comm changes).</summary>
    public ulong ThreadUuid(int tid, int tgid, string comm)
    {
        var thread = _lastThread;
        if (thread is null || thread.Tid != tid)
        {
            if (!_threads.TryGetValue(tid, out thread))
            {
                if (_threads.Count >= MaxThreads)
                {
                    if (_otherThreads == 0)
                    {
                        _otherThreads = writer.NewUuid();
                        writer.DescribeTrack(_otherThreads, "other threads", description: $"the records of threads past the first {MaxThreads}");
                    }

                    return _otherThreads;
                }

                thread = new ThreadTrack(tid, writer.NewUuid());
                _threads.Add(tid, thread);
            }

            _lastThread = thread;
        }

        int pid = tgid > 0 ? tgid : tid;
        if (thread.Comm is null || pid != thread.Pid || (!ReferenceEquals(comm, thread.Comm) && !string.Equals(comm, thread.Comm, StringComparison.Ordinal)))
        {
            thread.Comm = comm;
            thread.Pid = pid;
            writer.DescribeThread(thread.Uuid, pid, tid, comm);
        }

        return thread.Uuid;
    }

    /// <summary>Writes one record as an instant on its thread's track.</summary>
    public void Write(in TraceRecord r)
    {
        var plan = Plan(r.Format);
        ulong track = ThreadUuid(r.Pid, r.Tgid, r.Comm);
        writer.BeginInstant(r.Timestamp, track, plan.Category, plan.Name, plan.NameIid);
        if (_cpuName == 0)
        {
            _cpuName = writer.AnnotationName("common_cpu");
        }

        writer.ArgUInt(_cpuName, "common_cpu", (ulong)(uint)r.Cpu);
        if (r.IsText)
        {
            WriteText(r);
        }
        else
        {
            WriteFields(r, plan);
        }

        writer.EndEvent();
        Records++;
    }

    private FormatPlan Plan(EventFormat format)
    {
        if (ReferenceEquals(format, _lastFormat))
        {
            return _lastPlan!;
        }

        if (!_plans.TryGetValue(format, out var plan))
        {
            var fields = format.EventFields;
            var ids = new ulong[fields.Length];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = writer.AnnotationName(fields[i].Name);
            }

            plan = new FormatPlan(format.Name, writer.EventName(format.Name), writer.Category(format.System.Length > 0 ? format.System : "ftrace"), [.. fields], ids);
            _plans.Add(format, plan);
        }

        _lastFormat = format;
        _lastPlan = plan;
        return plan;
    }

    private void WriteFields(in TraceRecord r, FormatPlan plan)
    {
        var fields = plan.Fields;
        for (int i = 0; i < fields.Length; i++)
        {
            var f = fields[i];
            ulong id = plan.FieldIids[i];
            if (f.IsNumber)
            {
                if (f.IsSigned)
                {
                    writer.ArgInt(id, f.Name, r.GetInt64(f));
                }
                else if (f.IsLongOrPointer || f.Size == 8)
                {
                    writer.ArgHex(id, f.Name, r.GetUInt64(f));
                }
                else
                {
                    writer.ArgUInt(id, f.Name, r.GetUInt64(f));
                }
            }
            else if (f.IsCharString)
            {
                writer.ArgString(id, f.Name, r.GetString(f).AsSpan().TrimEnd('\n'));
            }
            else
            {
                int mark = writer.BeginArray(id, f.Name);
                int n = r.ElementCount(f);
                for (int e = 0; e < n; e++)
                {
                    writer.ArrayElement(r.GetElement(f, e));
                }

                writer.EndArray(mark);
            }
        }
    }

    private void WriteText(in TraceRecord r)
    {
        Span<ulong> values = stackalloc ulong[8];
        if (_decoder.TryGetValues(r, out var kind, values, out uint present) && present != 0)
        {
            var names = KvmEventDecoder.FieldNames(kind);
            if (!_kvmNames.TryGetValue(kind, out var ids))
            {
                ids = [.. names.Select(writer.AnnotationName)];
                _kvmNames.Add(kind, ids);
            }

            for (int i = 0; i < names.Count; i++)
            {
                if ((present & (1u << i)) != 0)
                {
                    // printed negatives (errno, ret) come back sign-extended: keep them negative
                    long signed = (long)values[i];
                    if (signed is < 0 and >= int.MinValue)
                    {
                        writer.ArgInt(ids[i], names[i], signed);
                    }
                    else
                    {
                        writer.ArgUInt(ids[i], names[i], values[i]);
                    }
                }
            }

            return;
        }

        var payload = r.Text.Trim();
        if (!AllPairs(payload))
        {
            writer.ArgString(writer.AnnotationName("text"), "text", payload);
            return;
        }

        foreach (var range in payload.Split(' '))
        {
            var token = payload[range];
            int eq = token.IndexOf('=');
            var name = token[..eq];
            var value = token[(eq + 1)..];
            ulong id = writer.AnnotationName(name);
            if (value.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(value[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex))
            {
                writer.ArgHex(id, name, hex);
            }
            else if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long dec))
            {
                writer.ArgInt(id, name, dec);
            }
            else if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big))
            {
                writer.ArgUInt(id, name, big);
            }
            else
            {
                writer.ArgString(id, name, value);
            }
        }
    }

    /// <summary>True when the payload is one or more space-separated <c>name=value</c> tokens.</summary>
    private static bool AllPairs(ReadOnlySpan<char> payload)
    {
        if (payload.IsEmpty)
        {
            return false;
        }

        foreach (var range in payload.Split(' '))
        {
            if (payload[range].IndexOf('=') <= 0)
            {
                return false;
            }
        }

        return true;
    }

    private sealed class ThreadTrack(int tid, ulong uuid)
    {
        public int Tid { get; } = tid;

        public ulong Uuid { get; } = uuid;

        public string? Comm { get; set; }

        public int Pid { get; set; }
    }

    private sealed record FormatPlan(string Name, ulong NameIid, ulong Category, EventField[] Fields, ulong[] FieldIids);
}
