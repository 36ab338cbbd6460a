using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing.Writing;

/// <summary>Builds one record's bytes for a format by field name, as the kernel lays it out. Not thread-safe: one builder per writing thread.</summary>
/// <remarks>Offsets and sizes come from the format; a missing field throws <see cref="TraceFormatException"/>. Reusable:
/// <see cref="Reset"/> clears the bytes for the next record.</remarks>
public sealed class RecordBuilder
{
    private readonly byte[] _bytes;
    private readonly bool _bigEndian;
    private readonly int _fixedLength;
    private readonly EventField? _type;
    private int _length;

    /// <summary>Creates a builder for <paramref name="format"/>, sized for its fixed fields plus <paramref name="extra"/> bytes of dynamic data.</summary>
    /// <param name="format">The event's format.</param>
    /// <param name="extra">Room for dynamic data.</param>
    /// <param name="bigEndian">Write numbers big-endian (for big-endian files).</param>
    public RecordBuilder(EventFormat format, int extra = 0, bool bigEndian = false)
    {
        _bigEndian = bigEndian;
        ArgumentNullException.ThrowIfNull(format);
        Format = format;
        int fixedEnd = format.Fields.Length == 0 ? 8 : format.Fields.Max(f => f.Offset + f.Size);
        _bytes = new byte[fixedEnd + extra];
        _fixedLength = format.Fields.Length == 0 ? 8 : format.Fields.Where(f => f.Kind != FieldKind.Rest).Select(f => f.Offset + f.Size).DefaultIfEmpty(8).Max();
        _type = format.Find("common_type");
        Reset();
    }

    /// <summary>The format being built.</summary>
    public EventFormat Format { get; }

    /// <summary>The record so far (common_type set, fixed fields, then any dynamic data).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, _length);

    /// <summary>Clears every field and sets common_type to the format's ID.</summary>
    public RecordBuilder Reset()
    {
        _bytes.AsSpan(0, Math.Max(_length, _fixedLength)).Clear();
        _length = _fixedLength;
        if (_type is not null)
        {
            Set(_type, (ulong)Format.Id);
        }

        return this;
    }

    /// <summary>Sets a number field.</summary>
    public RecordBuilder Set(string field, ulong value) => Set(Format.Require(field), value);

    /// <summary>Sets a number field.</summary>
    public RecordBuilder Set(EventField field, ulong value)
    {
        ArgumentNullException.ThrowIfNull(field);
        var s = _bytes.AsSpan(field.Offset, field.Size);
        switch (field.Size)
        {
            case 1: s[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, _bigEndian ? BinaryPrimitives.ReverseEndianness((ushort)value) : (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(s, _bigEndian ? BinaryPrimitives.ReverseEndianness((uint)value) : (uint)value); break;
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(s, _bigEndian ? BinaryPrimitives.ReverseEndianness(value) : value); break;
            default: throw new ArgumentException($"{Format.FullName}.{field.Name} is not a number", nameof(field));
        }

        return this;
    }

    /// <summary>Sets a string: into a char array, a <c>__data_loc</c>/<c>__rel_loc</c> (appended after the fixed part, NUL-terminated) or the trailing <c>buf[]</c>.</summary>
    public RecordBuilder SetString(string field, string value)
    {
        var f = Format.Require(field);
        var bytes = System.Text.Encoding.UTF8.GetBytes(value + "\0");
        switch (f.Kind)
        {
            case FieldKind.Array:
                bytes.AsSpan(0, Math.Min(bytes.Length, f.Size)).CopyTo(_bytes.AsSpan(f.Offset, f.Size));
                break;
            case FieldKind.Rest:
                Append(f.Offset, bytes);
                break;
            case FieldKind.DataLoc:
            case FieldKind.RelLoc:
                int at = _length;
                Append(at, bytes);
                int rel = f.Kind == FieldKind.RelLoc ? at - (f.Offset + f.Size) : at;
                Set(f, f.Size == 2 ? (ulong)rel : (uint)rel | ((uint)bytes.Length << 16));
                break;
            default:
                throw new ArgumentException($"{Format.FullName}.{field} is not a string field", nameof(field));
        }

        return this;
    }

    private void Append(int at, byte[] bytes)
    {
        if (at + bytes.Length > _bytes.Length)
        {
            throw new ArgumentException($"{Format.FullName}: {bytes.Length} bytes of dynamic data do not fit; create the builder with more extra space");
        }

        bytes.CopyTo(_bytes, at);
        _length = Math.Max(_length, at + bytes.Length);
    }
}
