using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastRmp.Interop.Tracing;

/// <summary>Reads one scalar field of a binary record: 1, 2, 4 or 8 bytes, either endianness, zero- or sign-extended.</summary>
internal static class Scalar
{
    /// <summary>The value of <paramref name="size"/> bytes at <paramref name="at"/>; sizes other than 1, 2, 4, 8 read 0.</summary>
    /// <remarks>Not checked: the caller has made sure that <paramref name="size"/> bytes are readable at <paramref name="at"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(ref byte at, int size, bool signed, bool bigEndian)
    {
        switch (size)
        {
            case 8:
                ulong q = Unsafe.ReadUnaligned<ulong>(ref at);
                return bigEndian ? BinaryPrimitives.ReverseEndianness(q) : q;
            case 4:
                uint d = Unsafe.ReadUnaligned<uint>(ref at);
                d = bigEndian ? BinaryPrimitives.ReverseEndianness(d) : d;
                return signed ? (ulong)(int)d : d;
            case 2:
                ushort w = Unsafe.ReadUnaligned<ushort>(ref at);
                w = bigEndian ? BinaryPrimitives.ReverseEndianness(w) : w;
                return signed ? (ulong)(short)w : w;
            case 1:
                return signed ? (ulong)(sbyte)at : at;
            default:
                return 0;
        }
    }
}
