using System.Collections.Immutable;
using System.Text;

namespace FastRmp.Interop.Tracing.Perf;

/// <summary>
/// Streams the tracepoint samples of a perf.data in timestamp order as <see cref="TraceRecord"/>s: time, CPU, thread
/// (and its process as <see cref="TraceRecord.Tgid"/>), the event's format and its raw payload, decoded by the formats
/// of the file's tracing data exactly like a trace.dat record.
/// </summary>
/// <remarks>
/// Source: include/uapi/linux/perf_event.h and tools/perf/Documentation/perf.data-file-format.txt of Linux 6.18.
/// A sample's event is found by the <c>common_type</c> at the start of its raw payload. Task names follow perf's
/// rules: COMM records rename a thread at their time, FORK records give a new thread its parent's name, pid 0 is
/// <c>swapper</c>, and a thread never named is <c>:tid</c> (what <c>perf script</c> prints). LOST and LOST_SAMPLES
/// add to <see cref="TraceReadStats.LostEvents"/>; THROTTLE/UNTHROTTLE to <see cref="TraceReadStats.ThrottleRecords"/>;
/// samples of non-tracepoint events, or whose payload ID has no format, count as unknown. A sample or record that
/// does not fit its own size is damage, skipped and counted; records already read are kept. Order: see
/// <see cref="PerfEventQueue"/>. Not thread-safe.
/// </remarks>
public sealed class PerfDataReader : ITraceReader, ICommResolver
{
    private readonly PerfDataFile _file;
    private readonly PerfRecordStream _records;
    private readonly PerfEventQueue _queue;
    private readonly PerfByteOrder _order;
    private readonly Dictionary<int, string> _comms = [];
    private Dictionary<ulong, PerfEventAttr> _attrById = [];
    private int _attrCount = -1;
    private int _idPos = -1;
    private int _trailerIdPos = -1;
    private bool _eof;
    private bool _sawSample;
    private bool _tracingData;
    private ulong _lastTime;
    private bool _anyTime;

    internal PerfDataReader(PerfDataFile file, PerfRecordStream records, int windowRecords = PerfEventQueue.MaxEntries)
    {
        _queue = new PerfEventQueue(windowRecords);
        _file = file;
        _records = records;
        _order = file.Order;
        _tracingData = file.Formats.All.Count > 0;
        Stats.FormatErrors = file.FormatErrors;
        if (file.IsPipe)
        {
            // Pipe mode: attributes and formats are records in the stream; read up to the first sample so that
            // Formats and Info are known before the first MoveNext.
            while (!_tracingData && !_sawSample && !_eof && !_queue.HasReady)
            {
                ProcessNext();
            }
        }
    }

    /// <summary>The file being read.</summary>
    public PerfDataFile File => _file;

    /// <inheritdoc/>
    public TraceReadStats Stats { get; } = new();

    /// <inheritdoc/>
    public TraceSourceInfo Info => new(_file.Name, TraceFileKind.PerfData, _file.IsPipe ? "pipe" : "file", _file.Compression, _file.CpuCount, _file.Clock);

    /// <inheritdoc/>
    public TraceFormats Formats => _file.Formats;

    /// <summary>The task name perf would print for thread <paramref name="pid"/> at the current record.</summary>
    public string CommOf(int pid) => _comms.TryGetValue(pid, out var c) ? c : pid == 0 ? "swapper" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $":{pid}");

    /// <inheritdoc/>
    public bool MoveNext(out TraceRecord record)
    {
        while (true)
        {
            while (_queue.TryTake(out var e, out var payload))
            {
                switch (e.Kind)
                {
                    case PerfEntryKind.Comm:
                        _comms[e.Tid] = Encoding.UTF8.GetString(payload);
                        continue;
                    case PerfEntryKind.Fork:
                        if (_comms.TryGetValue(e.Pid, out var parent))
                        {
                            _comms[e.Tid] = parent;
                        }

                        continue;
                    default:
                        break;
                }

                if (_anyTime && e.Time < _lastTime)
                {
                    Stats.UnorderedRecords++;
                }
                else
                {
                    _lastTime = e.Time;
                    _anyTime = true;
                }

                var format = e.Format!;
                record = new TraceRecord(e.Time, e.Cpu, e.Tid, format, payload, _order.IsBigEndian, this, e.Pid);
                return true;
            }

            if (_eof)
            {
                record = default;
                return false;
            }

            ProcessNext();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _records.Dispose();

    /// <summary>Reads one record from the data and acts on it; at the end, releases everything held.</summary>
    private void ProcessNext()
    {
        bool more = _records.MoveNext();
        Stats.BytesRead = _records.Position - _file.DataOffset;
        if (more)
        {
            try
            {
                Process(_records.Type, _records.Record, _records.Offset);
            }
            finally
            {
                DrainDamage();
            }

            return;
        }

        DrainDamage();
        _eof = true;
        _queue.ReleaseAll(overflow: false);
    }

    private void DrainDamage()
    {
        foreach (var d in _records.Damage)
        {
            Stats.AddDamage(d);
        }

        _records.Damage.Clear();
    }

    private void Process(uint type, ReadOnlySpan<byte> rec, long offset)
    {
        var body = rec[PerfRecordType.HeaderSize..];
        switch (type)
        {
            case PerfRecordType.Sample:
                _sawSample = true;
                ProcessSample(body, offset);
                break;
            case PerfRecordType.FinishedRound:
                _queue.FinishRound();
                break;
            case PerfRecordType.Lost:
                if (body.Length >= 16)
                {
                    Stats.LostEvents += (long)Math.Min(_order.U64(body, 8), long.MaxValue / 2);
                    Stats.LostEventMarks++;
                }
                else
                {
                    Damage(offset, "LOST record shorter than its 16-byte body");
                }

                break;
            case PerfRecordType.LostSamples:
                if (body.Length >= 8)
                {
                    Stats.LostEvents += (long)Math.Min(_order.U64(body, 0), long.MaxValue / 2);
                    Stats.LostEventMarks++;
                }

                break;
            case PerfRecordType.Throttle:
            case PerfRecordType.Unthrottle:
                Stats.ThrottleRecords++;
                break;
            case PerfRecordType.Comm:
                ProcessComm(body, offset);
                break;
            case PerfRecordType.Fork:
                ProcessFork(body, offset);
                break;
            case PerfRecordType.HeaderAttr:
                ProcessHeaderAttr(body, offset);
                break;
            case PerfRecordType.HeaderTracingData:
                ProcessTracingData(body, offset);
                break;
            case PerfRecordType.HeaderFeature:
                if (body.Length >= 8)
                {
                    ulong feature = _order.U64(body, 0);
                    if (feature is > 0 and < 256)
                    {
                        _file.ApplyFeature((int)feature, body[8..], offset + 16);
                    }
                }

                break;
            default:
                break;
        }
    }

    private void ProcessSample(ReadOnlySpan<byte> body, long offset)
    {
        var attr = AttrOfSample(body);
        if (attr is null)
        {
            Damage(offset, "sample whose id belongs to no event attribute");
            return;
        }

        if (!PerfSample.TryParse(body, attr, _order, out var s))
        {
            Damage(offset, $"sample of {body.Length + 8} bytes, shorter than its sample_type 0x{(ulong)attr.SampleType:x} says");
            return;
        }

        if (!attr.IsTracepoint || s.RawOffset < 0)
        {
            Stats.UnknownEventRecords++;
            return;
        }

        var raw = body.Slice(s.RawOffset, s.RawLength);
        if (raw.Length < 2)
        {
            Damage(offset, $"tracepoint sample whose raw data has {raw.Length} bytes, too few for common_type");
            return;
        }

        var format = _file.Formats.ById(_order.U16(raw, 0));
        if (format is null)
        {
            Stats.UnknownEventRecords++;
            return;
        }

        if ((attr.SampleType & PerfSampleFormat.Tid) == 0 && format.PidField is { } pidField && pidField.Offset + 4 <= raw.Length)
        {
            s.Tid = s.Pid = (int)_order.U32(raw, pidField.Offset);
        }

        Queue(new PerfEntry { Kind = PerfEntryKind.Sample, Time = s.HasTime ? s.Time : _queue.LastDelivered, Cpu = s.Cpu, Pid = s.Pid, Tid = s.Tid, Format = format }, raw, offset);
    }

    private void ProcessComm(ReadOnlySpan<byte> body, long offset)
    {
        var (time, _) = TrailerTime(body);
        int trailer = TrailerSizeOf(body);
        if (body.Length - trailer < 8)
        {
            Damage(offset, "COMM record shorter than its pid and tid");
            return;
        }

        int tid = (int)_order.U32(body, 4);
        var name = body[8..(body.Length - trailer)];
        int nul = name.IndexOf((byte)0);
        Queue(new PerfEntry { Kind = PerfEntryKind.Comm, Time = time, Tid = tid }, nul >= 0 ? name[..nul] : name, offset);
    }

    private void ProcessFork(ReadOnlySpan<byte> body, long offset)
    {
        if (body.Length < 24)
        {
            Damage(offset, "FORK record shorter than its 24-byte body");
            return;
        }

        int tid = (int)_order.U32(body, 8);
        int ptid = (int)_order.U32(body, 12);
        Queue(new PerfEntry { Kind = PerfEntryKind.Fork, Time = _order.U64(body, 16), Pid = ptid, Tid = tid }, default, offset);
    }

    private void ProcessHeaderAttr(ReadOnlySpan<byte> body, long offset)
    {
        if (body.Length < PerfEventAttr.MinSize)
        {
            Damage(offset, $"HEADER_ATTR record of {body.Length + 8} bytes, too short for a perf_event_attr");
            return;
        }

        uint size = _order.U32(body, 4);
        if (size < PerfEventAttr.MinSize || size > body.Length)
        {
            Damage(offset, $"HEADER_ATTR record whose perf_event_attr size {size} does not fit it");
            return;
        }

        var ids = ImmutableArray.CreateBuilder<ulong>();
        for (int at = (int)size; at + 8 <= body.Length; at += 8)
        {
            ids.Add(_order.U64(body, at));
        }

        _file.AddAttr(PerfEventAttr.Parse(body[..(int)size], _order, ids.ToImmutable(), _file.Name, offset + 8));
    }

    private void ProcessTracingData(ReadOnlySpan<byte> body, long offset)
    {
        if (body.Length < 4)
        {
            Damage(offset, "HEADER_TRACING_DATA record without its size");
            return;
        }

        uint size = _order.U32(body, 0);
        long at = offset + body.Length + 8;
        var bytes = _records.ReadTrailingBytes(size, "tracing data");
        _file.SetTracingData(bytes, at);
        _tracingData = true;
        Stats.FormatErrors = _file.FormatErrors;
    }

    private void Queue(PerfEntry entry, ReadOnlySpan<byte> payload, long offset)
    {
        if (_queue.IsFull && !_queue.HasReady)
        {
            Damage(offset, $"ordering window full ({_queue.PendingCount} records held, no FINISHED_ROUND to release them): the records held were released, later older ones come out of order");
            _queue.ReleaseAll(overflow: true);
        }

        _queue.Add(entry, payload);
    }

    private void Damage(long offset, string what) => Stats.AddDamage(new TraceDamage(TraceDamage.NoCpu, offset, what));

    /// <summary>The attribute a sample belongs to: the only one, or the one its id names.</summary>
    private PerfEventAttr? AttrOfSample(ReadOnlySpan<byte> body)
    {
        RefreshLayout();
        var attrs = _file.Attrs;
        if (attrs.Count == 1)
        {
            return attrs[0];
        }

        if (_idPos < 0 || body.Length < (_idPos + 1) * 8)
        {
            return null;
        }

        return _attrById.GetValueOrDefault(_order.U64(body, _idPos * 8));
    }

    private PerfEventAttr? AttrOfRecord(ReadOnlySpan<byte> body)
    {
        RefreshLayout();
        var attrs = _file.Attrs;
        if (attrs.Count == 1)
        {
            return attrs[0];
        }

        if (_trailerIdPos < 0 || body.Length < _trailerIdPos * 8)
        {
            return null;
        }

        var attr = _attrById.GetValueOrDefault(_order.U64(body, body.Length - (_trailerIdPos * 8)));
        return attr is { SampleIdAll: true } ? attr : null;
    }

    private (ulong Time, bool Known) TrailerTime(ReadOnlySpan<byte> body)
    {
        var attr = AttrOfRecord(body);
        if (attr is not null && PerfSample.TryParseTrailer(body, attr, _order, out var s) && s.HasTime)
        {
            return (s.Time, true);
        }

        return (_queue.LastDelivered, false);
    }

    private int TrailerSizeOf(ReadOnlySpan<byte> body)
    {
        var attr = AttrOfRecord(body);
        int size = attr is null ? 0 : PerfSample.TrailerSize(attr);
        return size <= body.Length ? size : 0;
    }

    /// <summary>Rebuilds the id -> attribute map and the id positions when attributes were added (pipe mode).</summary>
    private void RefreshLayout()
    {
        var attrs = _file.Attrs;
        if (attrs.Count == _attrCount)
        {
            return;
        }

        _attrCount = attrs.Count;
        var map = new Dictionary<ulong, PerfEventAttr>();
        foreach (var a in attrs)
        {
            foreach (ulong id in a.Ids)
            {
                map.TryAdd(id, a);
            }
        }

        _attrById = map;
        _idPos = attrs.Count == 0 ? -1 : PerfSample.IdPosition(attrs[0].SampleType);
        _trailerIdPos = attrs.Count == 0 ? -1 : PerfSample.TrailerIdPosition(attrs[0].SampleType);
        foreach (var a in attrs)
        {
            // perf refuses attributes whose ids sit at different places; FastRmp finds no attribute for such samples
            // (they count as damage) rather than guess.
            if (PerfSample.IdPosition(a.SampleType) != _idPos)
            {
                _idPos = -1;
            }

            if (PerfSample.TrailerIdPosition(a.SampleType) != _trailerIdPos)
            {
                _trailerIdPos = -1;
            }
        }
    }
}
