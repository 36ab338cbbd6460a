using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing.Perf;

/// <summary>Reads numbers of a perf.data file in its byte order (the magic tells it). Callers bound the offsets.</summary>
internal readonly struct PerfByteOrder(bool bigEndian)
{
    public bool IsBigEndian => bigEndian;

    public ushort U16(ReadOnlySpan<byte> s, int at) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s[at..]) : BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);

    public uint U32(ReadOnlySpan<byte> s, int at) => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    public ulong U64(ReadOnlySpan<byte> s, int at) => bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s[at..]) : BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);
}
