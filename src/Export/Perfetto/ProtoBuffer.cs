using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace FastRmp.Export.Perfetto;

/// <summary>
/// A protobuf wire-format encoder over one growable, pooled byte buffer: varints, tags, fixed64, strings and nested
/// messages (the subset Perfetto's <c>TracePacket</c> needs).
/// </summary>
/// <remarks>
/// Written by hand from the wire format (varint = 7 bits a byte, low group first, high bit = more; tag =
/// <c>field &lt;&lt; 3 | wire type</c>; wire types 0 varint, 1 fixed64, 2 length-delimited). A nested message is written
/// in place: <see cref="BeginMessage"/> remembers where its bytes start, <see cref="EndMessage"/> counts them, then moves
/// them right by the size of the length varint and writes the length in front (messages here are a packet at most, a
/// few hundred bytes, so the move costs less than sizing every field twice). Minimal varints only, so any protobuf
/// parser reads the output. Not thread-safe.
/// </remarks>
internal sealed class ProtoBuffer : IDisposable
{
    private byte[] _bytes;
    private int _length;

    public ProtoBuffer(int capacity = 4096) => _bytes = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _length);

    public int Length => _length;

    public void Clear() => _length = 0;

    /// <summary>Wire type 0 (varint) tag and value.</summary>
    public void Varint(int field, ulong value)
    {
        Tag(field, 0);
        RawVarint(value);
    }

    /// <summary>A signed integer as protobuf's <c>int64</c>/<c>int32</c> (two's complement in 10 bytes when negative, no zig-zag).</summary>
    public void Int64(int field, long value) => Varint(field, (ulong)value);

    public void Bool(int field, bool value) => Varint(field, value ? 1UL : 0UL);

    /// <summary>Wire type 1 (fixed64, little-endian).</summary>
    public void Fixed64(int field, ulong value)
    {
        Tag(field, 1);
        Ensure(8);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_bytes.AsSpan(_length), value);
        _length += 8;
    }

    /// <summary>Wire type 1 holding an IEEE double.</summary>
    public void Double(int field, double value) => Fixed64(field, BitConverter.DoubleToUInt64Bits(value));

    /// <summary>Wire type 2: a UTF-8 string.</summary>
    public void String(int field, string value) => String(field, value.AsSpan());

    /// <summary>Wire type 2: a UTF-8 string from UTF-16 chars (lone surrogates become U+FFFD, as Encoding.UTF8 does).</summary>
    public void String(int field, ReadOnlySpan<char> value)
    {
        Tag(field, 2);
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max < 1 << 14)
        {
            // the length fits in one (or two) varint bytes: encode after a reserved length and move once if needed
            int lengthBytes = max <= 127 ? 1 : 2;
            Ensure(lengthBytes + max);
            int n = Encoding.UTF8.GetBytes(value, _bytes.AsSpan(_length + lengthBytes));
            int needed = VarintSize((ulong)n);
            if (needed != lengthBytes)
            {
                _bytes.AsSpan(_length + lengthBytes, n).CopyTo(_bytes.AsSpan(_length + needed));
            }

            _length = VarintAt(_length, (ulong)n) + n;
            return;
        }

        int count = Encoding.UTF8.GetByteCount(value);
        RawVarint((ulong)count);
        Ensure(count);
        _length += Encoding.UTF8.GetBytes(value, _bytes.AsSpan(_length));
    }

    /// <summary>Wire type 2: bytes as they are (an already encoded message or a UTF-8 string).</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        RawVarint((ulong)value.Length);
        Raw(value);
    }

    /// <summary>Bytes with no tag (a message body already framed by the caller).</summary>
    public void Raw(ReadOnlySpan<byte> value)
    {
        Ensure(value.Length);
        value.CopyTo(_bytes.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>Starts nested message <paramref name="field"/>; returns the mark <see cref="EndMessage"/> takes.</summary>
    public int BeginMessage(int field)
    {
        Tag(field, 2);
        return _length;
    }

    /// <summary>Ends the message begun at <paramref name="mark"/>: writes its length in front of its bytes.</summary>
    public void EndMessage(int mark)
    {
        int size = _length - mark;
        int prefix = VarintSize((ulong)size);
        Ensure(prefix);
        _bytes.AsSpan(mark, size).CopyTo(_bytes.AsSpan(mark + prefix));
        VarintAt(mark, (ulong)size);
        _length += prefix;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Tag(int field, int wireType) => RawVarint(((ulong)(uint)field << 3) | (uint)wireType);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RawVarint(ulong value)
    {
        Ensure(10);
        _length = VarintAt(_length, value);
    }

    /// <summary>Writes a varint at <paramref name="at"/> (room already ensured); returns the index after it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int VarintAt(int at, ulong value)
    {
        var b = _bytes;
        while (value >= 0x80)
        {
            b[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        b[at++] = (byte)value;
        return at;
    }

    /// <summary>Bytes a varint of <paramref name="value"/> takes (1-10).</summary>
    public static int VarintSize(ulong value) => 1 + ((63 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int more)
    {
        if (_bytes.Length - _length < more)
        {
            Grow(more);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int more)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(checked(Math.Max(_bytes.Length * 2, _length + more)));
        _bytes.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = bigger;
    }

    public void Dispose()
    {
        if (_bytes.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = [];
            _length = 0;
        }
    }
}
