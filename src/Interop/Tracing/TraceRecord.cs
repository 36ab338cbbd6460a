using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// One trace record: timestamp (ns), CPU, pid, the event's format and a view of its bytes (binary input) or its
/// payload text (text input). Valid until the reader moves on.
/// </summary>
/// <remarks>
/// A span view: reading a field costs a bounds check and a load, no allocation. Field values are read with the
/// offsets of the file's own format (<see cref="EventField"/>), never fixed offsets. Out-of-range fields (a payload
/// shorter than its format says) read as 0 / empty rather than throwing; <see cref="HasField"/> tells them apart.
/// </remarks>
public readonly ref struct TraceRecord
{
    private readonly ICommResolver? _comms;
    private readonly string? _comm;
    private readonly ulong _timestamp;
    private readonly int _cpu;
    private readonly int _pid;
    private readonly int _tgid;
    private readonly EventFormat _format;
    private readonly ReadOnlySpan<byte> _payload;
    private readonly ReadOnlySpan<char> _text;
    private readonly bool _isBigEndian;

    /// <summary>Creates a binary record (<paramref name="tgid"/>: the thread's process when the input says it, as perf samples do; else 0).</summary>
    public TraceRecord(ulong timestamp, int cpu, int pid, EventFormat format, ReadOnlySpan<byte> payload, bool bigEndian, ICommResolver? comms, int tgid = 0)
    {
        _timestamp = timestamp;
        _cpu = cpu;
        _pid = pid;
        _tgid = tgid;
        _format = format;
        _payload = payload;
        _isBigEndian = bigEndian;
        _comms = comms;
        _comm = null;
        _text = default;
    }

    /// <summary>Creates a text record (comm known from the line; <paramref name="tgid"/> from a record-tgid column or perf's <c>pid/tid</c>, 0 when the line has none).</summary>
    public TraceRecord(ulong timestamp, int cpu, int pid, string comm, EventFormat format, ReadOnlySpan<char> text, int tgid = 0)
    {
        _timestamp = timestamp;
        _cpu = cpu;
        _pid = pid;
        _tgid = tgid;
        _format = format;
        _payload = default;
        _isBigEndian = false;
        _comms = null;
        _comm = comm;
        _text = text;
    }

    /// <summary>
    /// Writes a binary record into <paramref name="record"/> field by field. <c>record = new TraceRecord(...)</c> on an
    /// <c>out</c> parameter builds the 80-byte struct in a temporary and copies it with wide loads that cannot be
    /// forwarded from the narrow stores just made: two store-forwarding stalls per record, a third of <c>fastrmp info</c>'s
    /// time on a 5 M-record trace.dat (perf annotate of the AOT binary). Same meaning as the binary constructor.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void SetBinary(out TraceRecord record, ulong timestamp, int cpu, int pid, EventFormat format, ReadOnlySpan<byte> payload, bool bigEndian, ICommResolver? comms)
    {
        Unsafe.SkipInit(out record);
        Unsafe.AsRef(in record._timestamp) = timestamp;
        Unsafe.AsRef(in record._cpu) = cpu;
        Unsafe.AsRef(in record._pid) = pid;
        Unsafe.AsRef(in record._tgid) = 0;
        Unsafe.AsRef(in record._format) = format;
        Unsafe.AsRef(in record._payload) = payload;
        Unsafe.AsRef(in record._text) = default;
        Unsafe.AsRef(in record._isBigEndian) = bigEndian;
        Unsafe.AsRef(in record._comms) = comms;
        Unsafe.AsRef(in record._comm) = null;
    }

    /// <summary>Timestamp in nanoseconds (after OFFSET/TSC2NSEC; raw counter units for non-ns clocks).</summary>
    public ulong Timestamp => _timestamp;

    /// <summary>The CPU whose ring buffer held the record.</summary>
    public int Cpu => _cpu;

    /// <summary>The <c>common_pid</c> (thread id).</summary>
    public int Pid => _pid;

    /// <summary>
    /// The thread's process (thread group id) when the input says it: ftrace text with <c>options/record-tgid</c>,
    /// <c>perf script</c> printing <c>pid/tid</c>, perf.data samples. 0 when unknown (always for trace.dat, whose records
    /// carry only the thread id).
    /// </summary>
    public int Tgid => _tgid;

    /// <summary>The event's format; for text input a format with no fields unless the file's formats are known.</summary>
    public EventFormat Format => _format;

    /// <summary>The record's bytes, from <c>common_type</c> on (empty for text input).</summary>
    public ReadOnlySpan<byte> Payload => _payload;

    /// <summary>The payload text after <c>event:</c> (empty for binary input).</summary>
    public ReadOnlySpan<char> Text => _text;

    /// <summary>True for text input.</summary>
    public bool IsText => Payload.IsEmpty && Format.Fields.IsEmpty;

    /// <summary>True when numbers in <see cref="Payload"/> are big-endian.</summary>
    public bool IsBigEndian => _isBigEndian;

    /// <summary>The task name: from the text line, or the saved cmdlines (<c>&lt;idle&gt;</c>, <c>&lt;...&gt;</c> when unknown).</summary>
    public string Comm => _comm ?? _comms?.CommOf(Pid) ?? "<...>";

    /// <summary>True when the payload holds all bytes of <paramref name="field"/>.</summary>
    public bool HasField(EventField field) => field.Offset + field.Size <= Payload.Length;

    /// <summary>Reads a scalar field zero-extended (or sign-extended when the format says signed) to 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong GetUInt64(EventField field)
    {
        int off = field.Offset;
        int size = field.Size;
        var p = Payload;
        if ((uint)off > (uint)p.Length || (uint)size > (uint)(p.Length - off))
        {
            return 0;
        }

        return Scalar.Read(ref Unsafe.Add(ref MemoryMarshal.GetReference(p), off), size, field.IsSigned, IsBigEndian);
    }

    /// <summary>Reads a scalar field as a signed 64-bit value (sign-extended when the format says signed).</summary>
    public long GetInt64(EventField field) => (long)GetUInt64(field);

    /// <summary>
    /// The bytes of an array, <c>__data_loc</c>/<c>__rel_loc</c> or trailing field (empty when out of range). Strings
    /// include any NUL padding; use <see cref="GetString"/> for text.
    /// </summary>
    public ReadOnlySpan<byte> GetData(EventField field)
    {
        var p = Payload;
        switch (field.Kind)
        {
            case FieldKind.Scalar:
            case FieldKind.Array:
                return (uint)(field.Offset + field.Size) <= (uint)p.Length ? p.Slice(field.Offset, field.Size) : default;
            case FieldKind.Rest:
                return (uint)field.Offset <= (uint)p.Length ? p[field.Offset..] : default;
            default:
                if ((uint)(field.Offset + field.Size) > (uint)p.Length || field.Size is not (2 or 4))
                {
                    return default;
                }

                uint loc = field.Size == 4 ? Read32(p.Slice(field.Offset, 4), IsBigEndian) : Read16(p.Slice(field.Offset, 2), IsBigEndian);
                int start = (int)(loc & 0xFFFF);
                int len = field.Size == 4 ? (int)(loc >> 16) : -1;
                if (field.Kind == FieldKind.RelLoc)
                {
                    start += field.Offset + field.Size;
                }

                if (start > p.Length)
                {
                    return default;
                }

                if (len < 0)
                {
                    int nul = p[start..].IndexOf((byte)0);
                    len = nul < 0 ? p.Length - start : nul;
                }

                return len <= p.Length - start ? p.Slice(start, len) : default;
        }
    }

    /// <summary>A character field as text, cut at the first NUL (Latin-1 bytes are kept as code points; UTF-8 decoded).</summary>
    public string GetString(EventField field)
    {
        if (IsText)
        {
            return "";
        }

        var d = GetData(field);
        int nul = d.IndexOf((byte)0);
        if (nul >= 0)
        {
            d = d[..nul];
        }

        return Encoding.UTF8.GetString(d);
    }

    /// <summary>Element <paramref name="index"/> of a numeric array field (zero-extended, or sign-extended when signed).</summary>
    public ulong GetElement(EventField field, int index)
    {
        var d = GetData(field);
        int es = field.ElementSize;
        if (es is not (1 or 2 or 4 or 8) || (uint)index >= (uint)(d.Length / es))
        {
            return 0;
        }

        return Scalar.Read(ref Unsafe.Add(ref MemoryMarshal.GetReference(d), index * es), es, field.IsSigned, IsBigEndian);
    }

    /// <summary>Number of elements in an array or dynamic field.</summary>
    public int ElementCount(EventField field) => field.ElementSize is 1 or 2 or 4 or 8 ? GetData(field).Length / field.ElementSize : 0;

    private static ushort Read16(ReadOnlySpan<byte> s, bool be) => be ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    private static uint Read32(ReadOnlySpan<byte> s, bool be) => be ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
}

/// <summary>Maps a pid to a task name (the trace's saved cmdlines).</summary>
public interface ICommResolver
{
    /// <summary>The comm for <paramref name="pid"/>; <c>&lt;idle&gt;</c> for 0 and <c>&lt;...&gt;</c> when unknown.</summary>
    string CommOf(int pid);
}
