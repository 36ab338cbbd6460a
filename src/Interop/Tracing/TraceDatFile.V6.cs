using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing;

/// <content>Version 6: sequential metadata, options terminated by id 0, flyrecord table.</content>
public sealed partial class TraceDatFile
{
    /// <summary>Reads v6 metadata starting at <paramref name="start"/>.</summary>
    /// <remarks>Source: traces.md section 2.2 and trace-cmd.dat.v6(5). The metadata has no overall size, so it is read
    /// into a window that grows until it holds everything up to the flyrecord table (bounded by the file size).</remarks>
    private void ReadV6(long start)
    {
        long window = Math.Min(_input.Length - start, 1 << 20);
        while (true)
        {
            var bytes = new byte[window];
            _input.ReadExactly(start, bytes, "metadata");
            try
            {
                _options.Clear();
                _buffers.Clear();
                _cmdlines.Clear();
                ParseV6(bytes, start);
                return;
            }
            catch (TraceFormatException ex) when ((ex.Message.Contains("truncated", StringComparison.Ordinal) || ex.Message.Contains("exceeds", StringComparison.Ordinal)) && start + window < _input.Length)
            {
                if (window >= MaxMetadataBytes)
                {
                    throw;
                }

                window = Math.Min(_input.Length - start, window * 4);
                Formats = new TraceFormats();
            }
        }
    }

    private void ParseV6(byte[] bytes, long start)
    {
        var c = new ByteCursor(bytes, start, IsBigEndian, Name);
        ParseHeaderInfo(ref c);
        ParseFtraceFormats(ref c);
        ParseEventSystems(ref c);

        _ = c.Take(c.Length(c.U32("kallsyms size"), "kallsyms"), "kallsyms");
        _ = c.Take(c.Length(c.U32("printk size"), "printk formats"), "printk formats");
        ParseCmdlines(c.Text(c.Length(c.U64("cmdlines size"), "saved cmdlines"), "saved cmdlines"));
        CpuCount = (int)Math.Min(c.U32("cpu count"), 1u << 16);
        var tag = c.Take(10, "section tag");
        var namedBuffers = new List<(long Offset, string Name)>();
        if (tag.StartsWith("options"u8))
        {
            while (true)
            {
                long at = c.FileOffset;
                ushort id = c.U16("option id");
                if (id == 0)
                {
                    break;
                }

                int size = c.Length(c.U32("option size"), $"option {id}");
                var data = c.Take(size, $"option {id}");
                ApplyOption(id, data, at + 6);
                if (id == 3 && data.Length > 8)
                {
                    var b = new ByteCursor(data, at + 6, IsBigEndian, Name);
                    long off = (long)b.U64("buffer offset");
                    namedBuffers.Add((off, b.CString("buffer name")));
                }
            }

            tag = c.Take(10, "section tag");
        }

        if (tag.StartsWith("latency"u8))
        {
            IsLatencyText = true;
            return;
        }

        if (!tag.StartsWith("flyrecord"u8))
        {
            throw new TraceFormatException($"{Name}: expected 'flyrecord' or 'latency' at offset 0x{c.FileOffset - 10:x}");
        }

        _buffers.Add(new TraceBuffer("", "", PageSize, false, ReadFlyrecordTable(ref c)));
        foreach (var (off, name) in namedBuffers)
        {
            if (off <= 0 || off + 10 > _input.Length)
            {
                throw new TraceFormatException($"{Name}: buffer '{name}' offset 0x{off:x} is outside the file");
            }

            var table = new byte[10 + (16L * CpuCount)];
            _input.ReadExactly(off, table, $"flyrecord table of buffer '{name}'");
            var t = new ByteCursor(table, off, IsBigEndian, Name);
            if (!t.Take(10, "tag").StartsWith("flyrecord"u8))
            {
                throw new TraceFormatException($"{Name}: expected 'flyrecord' for buffer '{name}' at offset 0x{off:x}");
            }

            _buffers.Add(new TraceBuffer(name, "", PageSize, false, ReadFlyrecordTable(ref t)));
        }
    }

    private ImmutableArray<CpuData> ReadFlyrecordTable(ref ByteCursor c)
    {
        var cpus = ImmutableArray.CreateBuilder<CpuData>(CpuCount);
        for (int cpu = 0; cpu < CpuCount; cpu++)
        {
            long at = c.FileOffset;
            ulong off = c.U64("cpu data offset");
            ulong size = c.U64("cpu data size");
            CheckCpuRange(off, $"CPU {cpu} data (table entry at offset 0x{at:x})");
            cpus.Add(new CpuData(cpu, (long)off, (long)Math.Min(size, MaxCpuDataBytes)));
        }

        return cpus.MoveToImmutable();
    }

    /// <summary>
    /// A CPU's data must start inside the file; it may end past it (a truncated file): the reader then reads every
    /// complete sub-buffer there is and reports the rest as damage ("truncated CPU data"), instead of refusing the
    /// whole file as trace-cmd does.
    /// </summary>
    private const ulong MaxCpuDataBytes = 1UL << 62; // a size past any file: the reader finds where the data ends

    private void CheckCpuRange(ulong offset, string what)
    {
        if (offset > (ulong)_input.Length)
        {
            throw new TraceFormatException($"{Name}: {what}: offset 0x{offset:x} is past the end of the file ({_input.Length} bytes)");
        }
    }

    private void CheckRange(ulong offset, ulong size, string what)
    {
        if (offset > (ulong)_input.Length || size > (ulong)_input.Length - offset)
        {
            throw new TraceFormatException($"{Name}: {what}: offset 0x{offset:x} size {size} runs past the end of the file ({_input.Length} bytes)");
        }
    }
}
