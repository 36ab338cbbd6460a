using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Streams the records of one trace.dat buffer instance, merged across CPUs by timestamp (ties in CPU order).
/// </summary>
/// <remarks>
/// Per record: one timestamp compare against the earliest other CPU (a heap step only when the CPU changes), an
/// array lookup of the format by ID, and the pid read at the format's <c>common_pid</c> offset; no managed allocation
/// per record (buffers are reused; compressed input costs one small Task per chunk). Timestamps get TSC2NSEC then
/// OFFSET applied. Records whose ID has no format are counted in <see cref="TraceReadStats.UnknownEventRecords"/> and
/// skipped. The formats are those of the file when the reader is created. Not thread-safe.
/// </remarks>
public sealed class TraceDatReader : ISplittableReader
{
    private readonly TraceDatFile _file;
    private readonly TraceInput _input;
    private readonly CpuStream[] _streams;
    private readonly ChunkDecompressor? _decompressor;
    private bool _disposed;
    private readonly bool _be;
    private readonly EventFormat?[] _formatById;
    private readonly int[] _pidOffsetById;
    private readonly bool _tsc;
    private readonly ulong _tscMult;
    private readonly int _tscShift;
    private readonly ulong _tscOffset;
    private readonly ulong _offset;

    /// <summary>The streams with a record waiting, other than <see cref="_current"/>: a binary min-heap on (timestamp, CPU order).</summary>
    private readonly Head[] _heap;
    private int _heapCount;

    /// <summary>The stream whose record was delivered last (it moves on at the next call), or -1.</summary>
    private int _current = -1;

    internal TraceDatReader(TraceDatFile file, TraceInput input, TraceBuffer buffer)
    {
        _file = file;
        _input = input;
        Buffer = buffer;
        _be = file.IsBigEndian;
        _decompressor = buffer.IsCompressed ? ChunkDecompressor.Create(file.Compression, file.Name) : null;
        var cpus = buffer.Cpus.OrderBy(c => c.Cpu).ToArray();
        _streams = new CpuStream[cpus.Length];
        for (int i = 0; i < cpus.Length; i++)
        {
            _streams[i] = new CpuStream(input, cpus[i], buffer.SubBufferSize, file.PageHeader, _be, buffer.IsCompressed, _decompressor, Stats);
        }

        (_formatById, _pidOffsetById) = FormatTable(file.Formats);
        Stats.FormatErrors = file.FormatErrors;
        if (file.Tsc2Nsec is { } t)
        {
            _tsc = true;
            _tscMult = t.Mult;
            _tscShift = (int)t.Shift;
            _tscOffset = (ulong)t.Offset;
        }

        _offset = (ulong)file.TimestampOffset;
        _heap = new Head[_streams.Length];
        for (int i = 0; i < _streams.Length; i++)
        {
            if (_streams[i].MoveNext())
            {
                Push(new Head(_streams[i].Timestamp, i));
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
        // The streams' page buffers are freed by Dispose: reading on would read memory that is no longer the reader's.
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (!Advance())
            {
                record = default;
                return false;
            }

            var st = _streams[_current];
            int length = st.PayloadLength;
            ref byte start = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(st.Buffer), st.PayloadOffset);
            uint id = Unsafe.ReadUnaligned<ushort>(ref start);
            if (_be)
            {
                id = BinaryPrimitives.ReverseEndianness((ushort)id);
            }

            var byId = _formatById;
            var format = id < (uint)byId.Length ? byId[id] : null;
            if (format is null)
            {
                Stats.UnknownEventRecords++;
                continue;
            }

            int pid = 0;
            int pidAt = _pidOffsetById[id];
            if (pidAt >= 0 && pidAt + 4 <= length)
            {
                pid = Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref start, pidAt));
                if (_be)
                {
                    pid = BinaryPrimitives.ReverseEndianness(pid);
                }
            }

            ulong ts = st.Timestamp;
            if (_tsc)
            {
                ts = MulShift(ts, _tscMult, _tscShift) + _tscOffset;
            }

            TraceRecord.SetBinary(out record, ts + _offset, st.Cpu, pid, format, MemoryMarshal.CreateReadOnlySpan(ref start, length), _be, _file);
            return true;
        }
    }

    /// <summary>
    /// One reader per CPU of this reader's buffer instance, each with its own <see cref="Stats"/> and page buffers, for
    /// reading the CPUs on several threads at once (<see cref="TraceScan"/>). The caller disposes them, before the file.
    /// </summary>
    ITraceReader[]? ISplittableReader.Split() => SplitByCpu();

    /// <summary>Whether compressed chunks are decompressed one ahead on the thread pool (default true; see <see cref="CpuStream.Prefetch"/>).</summary>
    internal bool Prefetch
    {
        set
        {
            foreach (var stream in _streams)
            {
                stream.Prefetch = value;
            }
        }
    }

    internal TraceDatReader[] SplitByCpu()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var parts = new TraceDatReader[Buffer.Cpus.Length];
        var cpus = Buffer.Cpus.OrderBy(c => c.Cpu).ToArray();
        for (int i = 0; i < cpus.Length; i++)
        {
            parts[i] = new TraceDatReader(_file, _input, Buffer with { Cpus = [cpus[i]] });
        }

        return parts;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        foreach (var s in _streams)
        {
            s.Dispose();
        }

        _decompressor?.Dispose();
    }

    /// <summary>The low 64 bits of (<paramref name="value"/> * <paramref name="mult"/>) &gt;&gt; <paramref name="shift"/> (mod 128) in 128-bit arithmetic: the TSC2NSEC conversion.</summary>
    internal static ulong MulShift(ulong value, ulong mult, int shift)
    {
        ulong hi = Math.BigMul(value, mult, out ulong lo);
        shift &= 127;
        return shift switch
        {
            0 => lo,
            < 64 => (hi << (64 - shift)) | (lo >> shift),
            _ => hi >> (shift - 64),
        };
    }

    /// <summary>The format and <c>common_pid</c> offset (-1 for none) of each event ID, as arrays indexed by ID.</summary>
    private static (EventFormat?[] Formats, int[] PidOffsets) FormatTable(TraceFormats formats)
    {
        int max = -1;
        foreach (var f in formats.All)
        {
            if (f.Id is >= 0 and <= ushort.MaxValue)
            {
                max = Math.Max(max, f.Id);
            }
        }

        var byId = new EventFormat?[max + 1];
        var pidAt = new int[max + 1];
        for (int id = 0; id <= max; id++)
        {
            var f = formats.ById(id);
            byId[id] = f;
            pidAt[id] = f?.PidField?.Offset ?? -1;
        }

        return (byId, pidAt);
    }

    /// <summary>Moves <see cref="_current"/> to the stream holding the earliest record; false when every stream is done.</summary>
    /// <remarks>
    /// Runs of records on one CPU stay on it: the stream that delivered the last record moves on and is compared with
    /// the heap's top only; when it is no longer the earliest it trades places with the top (one sift-down).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Advance()
    {
        int cur = _current;
        if (cur >= 0 && _streams[cur].MoveNext())
        {
            var next = new Head(_streams[cur].Timestamp, cur);
            if (_heapCount == 0 || next.Before(_heap[0]))
            {
                return true;
            }

            _current = _heap[0].Stream;
            SiftDown(next);
            return true;
        }

        if (_heapCount == 0)
        {
            _current = -1;
            return false;
        }

        _current = _heap[0].Stream;
        var last = _heap[--_heapCount];
        if (_heapCount > 0)
        {
            SiftDown(last);
        }

        return true;
    }

    private void Push(Head head)
    {
        int i = _heapCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!head.Before(_heap[parent]))
            {
                break;
            }

            _heap[i] = _heap[parent];
            i = parent;
        }

        _heap[i] = head;
    }

    /// <summary>Puts <paramref name="head"/> in the top's place and restores the heap order below it.</summary>
    private void SiftDown(Head head)
    {
        var heap = _heap;
        int n = _heapCount;
        int i = 0;
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= n)
            {
                break;
            }

            if (child + 1 < n && heap[child + 1].Before(heap[child]))
            {
                child++;
            }

            if (!heap[child].Before(head))
            {
                break;
            }

            heap[i] = heap[child];
            i = child;
        }

        heap[i] = head;
    }

    /// <summary>A stream's next record in the merge: its raw timestamp and the stream's index (CPU order breaks ties).</summary>
    private readonly record struct Head(ulong Timestamp, int Stream)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Before(Head other) => Timestamp < other.Timestamp || (Timestamp == other.Timestamp && Stream < other.Stream);
    }
}
