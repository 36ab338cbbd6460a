using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Streams the records of one trace.dat buffer instance, merged across CPUs by timestamp (ties in CPU order).
/// </summary>
/// <remarks>
/// Per record: a priority-queue step (skipped while one CPU stays earliest) and a format lookup by ID; no managed
/// allocation per record (buffers are reused; compressed input costs one small Task per chunk). Timestamps
/// get TSC2NSEC then OFFSET applied. Records whose ID has no format are counted in
/// <see cref="TraceReadStats.UnknownEventRecords"/> and skipped. Not thread-safe.
/// </remarks>
public sealed class TraceDatReader : ITraceReader
{
    private readonly TraceDatFile _file;
    private readonly CpuStream[] _streams;
    private readonly PriorityQueue<int, (ulong Ts, int Order)> _queue;
    private readonly ChunkDecompressor? _decompressor;
    private readonly bool _be;
    private int _current = -1;

    internal TraceDatReader(TraceDatFile file, TraceInput input, TraceBuffer buffer)
    {
        _file = file;
        Buffer = buffer;
        _be = file.IsBigEndian;
        _decompressor = buffer.IsCompressed ? ChunkDecompressor.Create(file.Compression, file.Name) : null;
        var cpus = buffer.Cpus.OrderBy(c => c.Cpu).ToArray();
        _streams = new CpuStream[cpus.Length];
        for (int i = 0; i < cpus.Length; i++)
        {
            _streams[i] = new CpuStream(input, cpus[i], buffer.SubBufferSize, file.PageHeader, _be, buffer.IsCompressed, _decompressor, Stats);
        }

        _queue = new PriorityQueue<int, (ulong, int)>(Math.Max(1, _streams.Length));
        for (int i = 0; i < _streams.Length; i++)
        {
            if (_streams[i].MoveNext())
            {
                _queue.Enqueue(i, (_streams[i].Timestamp, i));
            }
        }
    }

    /// <summary>The file being read.</summary>
    public TraceDatFile File => _file;

    /// <summary>The buffer instance being read.</summary>
    public TraceBuffer Buffer { get; }

    /// <inheritdoc/>
    public TraceReadStats Stats { get; } = new();

    /// <inheritdoc/>
    public TraceSourceInfo Info => new(_file.Name, TraceFileKind.TraceDat, _file.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _file.Compression, _file.CpuCount, Buffer.Clock.Length > 0 ? Buffer.Clock : _file.Clock);

    /// <inheritdoc/>
    public TraceFormats Formats => _file.Formats;

    /// <inheritdoc/>
    public bool MoveNext(out TraceRecord record)
    {
        while (true)
        {
            int index;
            if (_current >= 0)
            {
                var s = _streams[_current];
                if (s.MoveNext())
                {
                    // Runs of records on one CPU skip the queue: keep the stream while it is still the earliest.
                    if (!_queue.TryPeek(out _, out var head) || s.Timestamp < head.Ts || (s.Timestamp == head.Ts && _current < head.Order))
                    {
                        index = _current;
                        goto Deliver;
                    }

                    _queue.Enqueue(_current, (s.Timestamp, _current));
                }

                _current = -1;
            }

            if (!_queue.TryDequeue(out index, out _))
            {
                record = default;
                return false;
            }

        Deliver:

            _current = index;
            var st = _streams[index];
            var payload = new ReadOnlySpan<byte>(st.Buffer, st.PayloadOffset, st.PayloadLength);
            int id = _be ? BinaryPrimitives.ReadUInt16BigEndian(payload) : BinaryPrimitives.ReadUInt16LittleEndian(payload);
            var format = _file.Formats.ById(id);
            if (format is null)
            {
                Stats.UnknownEventRecords++;
                continue;
            }

            int pid = 0;
            var pidField = format.PidField;
            if (pidField is not null && pidField.Offset + 4 <= payload.Length)
            {
                var ps = payload.Slice(pidField.Offset, 4);
                pid = _be ? BinaryPrimitives.ReadInt32BigEndian(ps) : BinaryPrimitives.ReadInt32LittleEndian(ps);
            }

            record = new TraceRecord(ConvertTime(st.Timestamp), st.Cpu, pid, format, payload, _be, _file);
            return true;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _streams)
        {
            s.Dispose();
        }

        _decompressor?.Dispose();
    }

    private ulong ConvertTime(ulong ts)
    {
        if (_file.Tsc2Nsec is { } t)
        {
            ts = (ulong)(((UInt128)ts * t.Mult) >> (int)t.Shift) + (ulong)t.Offset;
        }

        return ts + (ulong)_file.TimestampOffset;
    }
}
