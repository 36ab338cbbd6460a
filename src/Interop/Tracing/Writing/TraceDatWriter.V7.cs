using System.IO.Compression;
using System.Text;

namespace FastRmp.Interop.Tracing.Writing;

/// <content>Version 7: sections (metadata compressed when the file is), BUFFER section, one OPTIONS section at the end.</content>
public sealed partial class TraceDatWriter
{
    private const int ChunkPages = 10;

    private void WriteV7(FileBuilder w)
    {
        bool compress = _options.Compression != "none";
        w.CString(_options.Compression);
        w.CString(_options.Compression switch { "zstd" => "1.5.4", "zlib" => "1.2.13", "none" => "", _ => throw new ArgumentException($"unknown compression '{_options.Compression}'") });
        long firstOptions = w.Length;
        w.U64(0);

        var sections = new List<(ushort Id, long Offset)>();
        (ushort Id, byte[] Body)[] meta =
        [
            (16, HeaderInfo()),
            (17, FtraceFormats()),
            (18, EventSystems()),
            (19, [0, 0, 0, 0]),
            (20, [0, 0, 0, 0]),
            (21, Cmdlines()),
        ];
        foreach (var (id, body) in meta)
        {
            sections.Add((id, w.Length));
            WriteSection(w, id, compress, body);
        }

        var buffers = new List<(string Name, long At, List<(int Cpu, long Offset, long Size)> Cpus)>();
        foreach (var (name, cpus) in _instances)
        {
            long at = w.Length;
            buffers.Add((name, at, WriteBufferSection(w, cpus, compress)));
        }

        // One OPTIONS section: section offsets, CPU count, the buffer, DONE.
        long optionsAt = w.Length;
        var o = new FileBuilder(_options.BigEndian);
        foreach (var (id, offset) in sections)
        {
            o.U16(id);
            o.U32(8);
            o.U64((ulong)offset);
        }

        o.U16(8);
        o.U32(4);
        o.U32((uint)_cpus.Length);
        foreach (var (id, data) in _extraOptions)
        {
            o.U16(id);
            o.U32((uint)data.Length);
            o.Bytes(data);
        }

        foreach (var (name, bufferAt, cpuData) in buffers)
        {
            var buf = new FileBuilder(_options.BigEndian);
            buf.U64((ulong)bufferAt);
            buf.CString(name);
            buf.CString(_options.Clock);
            buf.U32((uint)_options.PageSize);
            buf.U32((uint)cpuData.Count);
            foreach (var (cpu, offset, size) in cpuData)
            {
                buf.U32((uint)cpu);
                buf.U64((ulong)offset);
                buf.U64((ulong)size);
            }

            var bufBytes = buf.ToArray();
            o.U16(3);
            o.U32((uint)bufBytes.Length);
            o.Bytes(bufBytes);
        }
        o.U16(0);
        o.U32(8);
        o.U64(0);
        WriteSection(w, 0, false, o.ToArray());
        w.PatchU64(firstOptions, (ulong)optionsAt);
    }

    /// <summary>A BUFFER section: header, then each CPU's data page-aligned (chunked when compressed).</summary>
    private List<(int Cpu, long Offset, long Size)> WriteBufferSection(FileBuilder w, CpuPages[] cpus, bool compress)
    {
        w.U16(3);
        w.U16((ushort)(compress ? 1 : 0));
        w.U32(uint.MaxValue);
        long sizeAt = w.Length;
        w.U64(0);
        var cpuData = new List<(int Cpu, long Offset, long Size)>();
        for (int i = 0; i < cpus.Length; i++)
        {
            w.PadTo(_options.PageSize);
            long at = w.Length;
            var pages = cpus[i].Finish();
            if (!compress)
            {
                w.Bytes(pages);
                cpuData.Add((i, at, pages.Length));
                continue;
            }

            int chunkBytes = ChunkPages * _options.PageSize;
            int count = (pages.Length + chunkBytes - 1) / chunkBytes;
            w.U32((uint)count);
            for (int c = 0; c < count; c++)
            {
                var raw = pages.AsSpan(c * chunkBytes, Math.Min(chunkBytes, pages.Length - (c * chunkBytes)));
                var packed = Compress(raw);
                w.U32((uint)packed.Length);
                w.U32((uint)raw.Length);
                w.Bytes(packed);
            }

            cpuData.Add((i, at, w.Length - at - 4)); // the size leaves out the chunk count, as trace-cmd writes it
        }

        w.PatchU64(sizeAt, (ulong)(w.Length - sizeAt - 8));
        return cpuData;
    }

    private void WriteSection(FileBuilder w, ushort id, bool compress, byte[] body)
    {
        w.U16(id);
        w.U16((ushort)(compress ? 1 : 0));
        w.U32(uint.MaxValue);
        if (!compress)
        {
            w.U64((ulong)body.Length);
            w.Bytes(body);
            return;
        }

        var packed = Compress(body);
        w.U64((ulong)(packed.Length + 8));
        w.U32((uint)packed.Length);
        w.U32((uint)body.Length);
        w.Bytes(packed);
    }

    private byte[] Compress(ReadOnlySpan<byte> data)
    {
        if (_options.Compression == "zstd")
        {
            using var c = new ZstdSharp.Compressor(3);
            return c.Wrap(data).ToArray();
        }

        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(data);
        }

        return ms.ToArray();
    }

    /// <summary>A little-endian byte sink with patching.</summary>
#pragma warning disable CA1001 // MemoryStream holds no unmanaged resource; nothing to dispose.
    private sealed class FileBuilder(bool bigEndian)
#pragma warning restore CA1001
    {
        private readonly MemoryStream _ms = new();

        public long Length => _ms.Length;

        public void U8(byte v) => _ms.WriteByte(v);

        public void U16(ushort v) => Bytes(BitConverter.GetBytes(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v));

        public void U32(uint v) => Bytes(BitConverter.GetBytes(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v));

        public void U64(ulong v) => Bytes(BitConverter.GetBytes(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v));

        public void Bytes(ReadOnlySpan<byte> b) => _ms.Write(b);

        public void CString(string s)
        {
            Bytes(Encoding.UTF8.GetBytes(s));
            U8(0);
        }

        public void PadTo(int alignment)
        {
            long pad = (alignment - (_ms.Length % alignment)) % alignment;
            for (long i = 0; i < pad; i++)
            {
                _ms.WriteByte(0);
            }
        }

        public void PatchU64(long at, ulong v)
        {
            long end = _ms.Position;
            _ms.Position = at;
            U64(v);
            _ms.Position = end;
        }

        public byte[] ToArray() => _ms.ToArray();

        public void CopyTo(Stream s)
        {
            _ms.Position = 0;
            _ms.CopyTo(s);
        }
    }
}
