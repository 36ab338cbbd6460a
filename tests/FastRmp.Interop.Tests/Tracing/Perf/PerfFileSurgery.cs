using System.Buffers.Binary;
using System.Numerics;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>Reads and rewrites the parts of a little-endian file-mode perf.data that tests cut, break or re-encode.</summary>
internal static class PerfFileSurgery
{
    public static long DataOffset(byte[] f) => (long)BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(40));

    public static long DataSize(byte[] f) => (long)BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(48));

    /// <summary>(offset, type, size) of every record of the data section.</summary>
    public static List<(long Offset, uint Type, int Size)> Records(byte[] f)
    {
        var list = new List<(long, uint, int)>();
        long p = DataOffset(f), end = p + DataSize(f);
        while (p + 8 <= end)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan((int)p));
            int size = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan((int)p + 6));
            list.Add((p, type, size));
            p += size;
        }

        return list;
    }

    /// <summary>The file with its data section replaced by <paramref name="data"/>: feature offsets moved, the header's data size set.</summary>
    public static byte[] ReplaceData(byte[] f, byte[] data)
    {
        long off = DataOffset(f), size = DataSize(f);
        int features = 0;
        for (int w = 0; w < 4; w++)
        {
            features += BitOperations.PopCount(BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(72 + (8 * w))));
        }

        long delta = data.Length - size;
        var table = f.AsSpan((int)(off + size), features * 16).ToArray();
        for (int i = 0; i < features; i++)
        {
            long at = (long)BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(i * 16));
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(i * 16), (ulong)(at + delta));
        }

        var result = new List<byte>(f.Length + (int)delta);
        result.AddRange(f.AsSpan(0, (int)off));
        result.AddRange(data);
        result.AddRange(table);
        result.AddRange(f.AsSpan((int)(off + size + (features * 16))));
        var bytes = result.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(48), (ulong)data.Length);
        return bytes;
    }

    /// <summary>
    /// The data section re-encoded as one zstd stream cut into <c>PERF_RECORD_COMPRESSED</c> records of random sizes
    /// (so records inside continue from one compressed record into the next), as <c>perf record -z</c> writes them.
    /// </summary>
    /// <remarks>With <paramref name="splitAtRecord"/> &gt; 0, the records before that one are one zstd frame and the rest another, each in its own compressed records; the out parameter of the other overload is where the second frame's first compressed record goes.</remarks>
    public static byte[] CompressData(byte[] f, int seed, int maxChunk, int splitAtRecord = 0) => CompressData(f, seed, maxChunk, splitAtRecord, out _);

    public static byte[] CompressData(byte[] f, int seed, int maxChunk, int splitAtRecord, out long secondFrameRecord)
    {
        var data = f.AsSpan((int)DataOffset(f), (int)DataSize(f)).ToArray();
        int split = splitAtRecord > 0 ? (int)(Records(f)[splitAtRecord].Offset - DataOffset(f)) : data.Length;
        var rng = new Random(seed);
        var output = new List<byte>();
        secondFrameRecord = -1;
        foreach (var part in new[] { data[..split], data[split..] })
        {
            if (part.Length == 0)
            {
                continue;
            }

            if (output.Count > 0)
            {
                secondFrameRecord = output.Count;
            }

            byte[] z;
            using (var c = new ZstdSharp.Compressor(3))
            {
                z = c.Wrap(part).ToArray();
            }

            int p = 0;
            while (p < z.Length)
            {
                int n = Math.Min(z.Length - p, rng.Next(1, maxChunk));
                var header = new byte[8];
                BinaryPrimitives.WriteUInt32LittleEndian(header, 81);
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), (ushort)(8 + n));
                output.AddRange(header);
                output.AddRange(z.AsSpan(p, n));
                p += n;
            }
        }

        if (secondFrameRecord >= 0)
        {
            secondFrameRecord += DataOffset(f);
        }

        return ReplaceData(f, [.. output]);
    }
}
