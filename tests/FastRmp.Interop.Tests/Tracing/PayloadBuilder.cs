using System.Buffers.Binary;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>Builds a record payload for a format by field name (little-endian), as the kernel would lay it out.</summary>
internal sealed class PayloadBuilder(EventFormat format, int size = 0)
{
    private readonly byte[] _bytes = new byte[Math.Max(size, format.Fields.Max(f => f.Offset + f.Size))];

    public PayloadBuilder Set(string field, ulong value)
    {
        var f = format.Require(field);
        var s = _bytes.AsSpan(f.Offset, f.Size);
        switch (f.Size)
        {
            case 1: s[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(s, value); break;
        }

        return this;
    }

    public byte[] Build()
    {
        Set("common_type", (ulong)format.Id);
        return _bytes;
    }
}
