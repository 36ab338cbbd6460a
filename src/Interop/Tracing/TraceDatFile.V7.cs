using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing;

/// <content>Version 7: compression header, a chain of OPTIONS sections, metadata sections, BUFFER options.</content>
public sealed partial class TraceDatFile
{
    private const int SectionHeaderSize = 16;

    /// <summary>Reads v7 metadata: <c>compression\0 version\0 u64 first-options-offset</c>, then sections.</summary>
    /// <remarks>Source: traces.md section 2.3 and trace-cmd.dat.v7(5). Unknown options and sections are skipped by size.</remarks>
    private void ReadV7(long pos)
    {
        var head = new byte[Math.Min(_input.Length - pos, 128)];
        _ = _input.ReadAt(pos, head);
        var c = new ByteCursor(head, pos, IsBigEndian, Name);
        Compression = c.CString("compression name");
        CompressionVersion = c.CString("compression version");
        long firstOptions = (long)c.U64("first options offset");
        using var decompressor = ChunkDecompressor.Create(Compression, Name);

        var sectionOffsets = new Dictionary<int, long>();
        var bufferOptions = new List<(byte[] Data, long At)>();
        var seen = new HashSet<long>();
        long next = firstOptions;
        while (next != 0)
        {
            if (!seen.Add(next))
            {
                throw new TraceFormatException($"{Name}: options sections form a loop at offset 0x{next:x}");
            }

            var (id, data) = ReadSection(next, decompressor);
            if (id != 0)
            {
                throw new TraceFormatException($"{Name}: expected an OPTIONS section (id 0) at offset 0x{next:x}, found id {id}");
            }

            long sectionData = next + SectionHeaderSize;
            next = 0;
            var o = new ByteCursor(data, sectionData, IsBigEndian, Name);
            while (o.Remaining > 0)
            {
                long at = o.FileOffset;
                ushort oid = o.U16("option id");
                int size = o.Length(o.U32("option size"), $"option {oid}");
                var odata = o.Take(size, $"option {oid}");
                if (oid == 0)
                {
                    if (odata.Length >= 8)
                    {
                        next = (long)new ByteCursor(odata, at + 6, IsBigEndian, Name).U64("next options offset");
                    }

                    break;
                }

                if (oid is >= 15 and <= 25 && oid != 22 && odata.Length == 8)
                {
                    sectionOffsets[oid] = (long)new ByteCursor(odata, at + 6, IsBigEndian, Name).U64("section offset");
                }
                else if (oid == 3)
                {
                    bufferOptions.Add((odata.ToArray(), at + 6));
                }

                ApplyOption(oid, odata, at + 6);
            }
        }

        if (!sectionOffsets.TryGetValue(16, out long headerAt))
        {
            throw new TraceFormatException($"{Name}: no HEADER_INFO section listed in the options");
        }

        var header = ReadSection(headerAt, decompressor, 16);
        var hc = new ByteCursor(header.Data, headerAt + SectionHeaderSize, IsBigEndian, Name);
        ParseHeaderInfo(ref hc);
        if (sectionOffsets.TryGetValue(17, out long ftraceAt))
        {
            var s = ReadSection(ftraceAt, decompressor, 17);
            var sc = new ByteCursor(s.Data, ftraceAt + SectionHeaderSize, IsBigEndian, Name);
            ParseFtraceFormats(ref sc);
        }

        if (sectionOffsets.TryGetValue(18, out long eventsAt))
        {
            var s = ReadSection(eventsAt, decompressor, 18);
            var sc = new ByteCursor(s.Data, eventsAt + SectionHeaderSize, IsBigEndian, Name);
            ParseEventSystems(ref sc);
        }

        if (sectionOffsets.TryGetValue(21, out long cmdAt))
        {
            var s = ReadSection(cmdAt, decompressor, 21);
            var sc = new ByteCursor(s.Data, cmdAt + SectionHeaderSize, IsBigEndian, Name);
            ParseCmdlines(sc.Text(sc.Length(sc.U64("cmdlines size"), "saved cmdlines"), "saved cmdlines"));
        }

        foreach (var (data, at) in bufferOptions)
        {
            _buffers.Add(ParseBufferOption(data, at));
        }

        if (CpuCount == 0 && _buffers.Count > 0)
        {
            CpuCount = _buffers.Max(b => b.Cpus.IsEmpty ? 0 : b.Cpus.Max(x => x.Cpu) + 1);
        }
    }

    private TraceBuffer ParseBufferOption(byte[] data, long at)
    {
        var b = new ByteCursor(data, at, IsBigEndian, Name);
        long sectionAt = (long)b.U64("buffer section offset");
        string name = b.CString("buffer name");
        string clock = b.CString("buffer clock");
        uint subBuffer = b.U32("sub-buffer size");
        uint count = b.U32("buffer cpu count");
        if (subBuffer < 64 || subBuffer > 64 * 1024 * 1024)
        {
            throw new TraceFormatException($"{Name}: buffer '{name}' has an implausible sub-buffer size {subBuffer} (option at offset 0x{at:x})");
        }

        if (count > (uint)(b.Remaining / 20))
        {
            throw new TraceFormatException($"{Name}: buffer '{name}' declares {count} CPUs but the option at offset 0x{at:x} holds fewer");
        }

        CheckRange((ulong)sectionAt, SectionHeaderSize, $"buffer '{name}' section");
        var sh = new byte[SectionHeaderSize];
        _input.ReadExactly(sectionAt, sh, $"buffer '{name}' section header");
        var shc = new ByteCursor(sh, sectionAt, IsBigEndian, Name);
        ushort sid = shc.U16("section id");
        ushort flags = shc.U16("section flags");
        if (sid != 3)
        {
            throw new TraceFormatException($"{Name}: expected a BUFFER section (id 3) at offset 0x{sectionAt:x}, found id {sid}");
        }

        var cpus = ImmutableArray.CreateBuilder<CpuData>((int)count);
        for (int i = 0; i < count; i++)
        {
            int cpu = (int)Math.Min(b.U32("cpu id"), 1u << 16);
            ulong off = b.U64("cpu data offset");
            ulong size = b.U64("cpu data size");
            CheckCpuRange(off, $"buffer '{name}' CPU {cpu} data");
            cpus.Add(new CpuData(cpu, (long)off, (long)Math.Min(size, MaxCpuDataBytes)));
        }

        return new TraceBuffer(name, clock, (int)subBuffer, (flags & 1) != 0, cpus.MoveToImmutable());
    }

    /// <summary>Reads a section's body (decompressed when flagged) after checking its id when <paramref name="expectId"/> is given.</summary>
    private (int Id, byte[] Data) ReadSection(long at, ChunkDecompressor? decompressor, int expectId = -1)
    {
        CheckRange((ulong)at, SectionHeaderSize, "section header");
        var h = new byte[SectionHeaderSize];
        _input.ReadExactly(at, h, "section header");
        var c = new ByteCursor(h, at, IsBigEndian, Name);
        int id = c.U16("section id");
        int flags = c.U16("section flags");
        _ = c.U32("section description");
        ulong size = c.U64("section size");
        if (expectId >= 0 && id != expectId)
        {
            throw new TraceFormatException($"{Name}: expected section id {expectId} at offset 0x{at:x}, found {id}");
        }

        CheckRange((ulong)at + SectionHeaderSize, size, $"section {id} at offset 0x{at:x}");
        if (size > MaxMetadataBytes)
        {
            throw new TraceFormatException($"{Name}: section {id} at offset 0x{at:x} is too large ({size} bytes)");
        }

        var body = new byte[size];
        _input.ReadExactly(at + SectionHeaderSize, body, $"section {id}");
        if ((flags & 1) == 0)
        {
            return (id, body);
        }

        if (decompressor is null)
        {
            throw new TraceFormatException($"{Name}: section {id} at offset 0x{at:x} is compressed but the file declares no compression");
        }

        var b = new ByteCursor(body, at + SectionHeaderSize, IsBigEndian, Name);
        uint csize = b.U32("compressed size");
        uint usize = b.U32("uncompressed size");
        if (csize > (uint)b.Remaining || usize > MaxMetadataBytes || usize > ((ulong)csize * 32768) + (1 << 20))
        {
            throw new TraceFormatException($"{Name}: section {id} at offset 0x{at:x}: compressed sizes {csize}/{usize} do not fit the section ({size} bytes)");
        }

        var compressed = body.AsSpan(8, (int)csize).ToArray();
        var output = new byte[usize];
        int n = decompressor.Decompress(compressed, compressed.Length, output);
        if (n != usize)
        {
            throw new TraceFormatException($"{Name}: section {id} at offset 0x{at:x}: {decompressor.Name} data is corrupt (got {n} of {usize} bytes)");
        }

        return (id, output);
    }
}
