using System.Buffers.Binary;
using System.Text;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// A bounds-checked reader over metadata bytes that knows the file offset of its first byte (or, for decompressed
/// sections, the section's offset) so every failure names where it happened.
/// </summary>
internal ref struct ByteCursor
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly long _baseOffset;
    private readonly bool _bigEndian;
    private readonly string _where;

    public ByteCursor(ReadOnlySpan<byte> data, long baseOffset, bool bigEndian, string where)
    {
        _data = data;
        _baseOffset = baseOffset;
        _bigEndian = bigEndian;
        _where = where;
        Position = 0;
    }

    public int Position { get; set; }

    public readonly int Remaining => _data.Length - Position;

    public readonly long FileOffset => _baseOffset + Position;

    public ReadOnlySpan<byte> Take(int n, string what)
    {
        if (n < 0 || n > Remaining)
        {
            throw Truncated(what, n);
        }

        var s = _data.Slice(Position, n);
        Position += n;
        return s;
    }

    public byte U8(string what) => Take(1, what)[0];

    public ushort U16(string what)
    {
        var s = Take(2, what);
        return _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);
    }

    public uint U32(string what)
    {
        var s = Take(4, what);
        return _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
    }

    public ulong U64(string what)
    {
        var s = Take(8, what);
        return _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
    }

    /// <summary>A length read from the file, checked to fit in what is left.</summary>
    public int Length(ulong value, string what)
    {
        if (value > (ulong)Remaining)
        {
            throw new TraceFormatException($"{_where}: {what} of {value} bytes at offset 0x{FileOffset:x} exceeds the {Remaining} bytes left");
        }

        return (int)value;
    }

    public string CString(string what)
    {
        int end = _data[Position..].IndexOf((byte)0);
        if (end < 0)
        {
            throw new TraceFormatException($"{_where}: unterminated string ({what}) at offset 0x{FileOffset:x}");
        }

        string s = Encoding.Latin1.GetString(_data.Slice(Position, end));
        Position += end + 1;
        return s;
    }

    public string Text(int n, string what) => Encoding.UTF8.GetString(Take(n, what));

    public readonly TraceFormatException Truncated(string what, int needed) =>
        new($"{_where}: truncated: {what} needs {needed} bytes at offset 0x{FileOffset:x}, {Remaining} left");
}
