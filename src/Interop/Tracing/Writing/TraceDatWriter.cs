using System.Text;

namespace FastRmp.Interop.Tracing.Writing;

/// <summary>Options of <see cref="TraceDatWriter"/>.</summary>
/// <param name="Version">6 or 7.</param>
/// <param name="Compression">v7 only: <c>none</c>, <c>zstd</c> or <c>zlib</c>.</param>
/// <param name="Cpus">Number of CPUs.</param>
/// <param name="PageSize">Sub-buffer size (4096 on x86).</param>
/// <param name="Clock">Trace clock name written in v7 BUFFER options.</param>
/// <param name="BigEndian">Write a big-endian file (all numbers, ring-buffer event headers and records).</param>
/// <param name="KernelLongSize">The traced kernel's long: 8, or 4 for a 32-bit kernel (4-byte commit word, data at 12).</param>
public sealed record TraceDatWriterOptions(int Version = 7, string Compression = "none", int Cpus = 1, int PageSize = 4096, string Clock = "local", bool BigEndian = false, int KernelLongSize = 8);

/// <summary>
/// Writes trace-cmd trace.dat files (v6, v7 with none/zlib/zstd) from event formats and records: test fixtures of any
/// size that <c>trace-cmd report</c> and FastRmp both read.
/// </summary>
/// <remarks>
/// Models the file layout of traces.md section 2 (little-endian, 64-bit kernel page header, 4-byte aligned events,
/// type_len 1..28 or 0 for long records, TIME_EXTEND for deltas of 2^27 or more). Pages are kept in memory per CPU
/// until <see cref="WriteTo"/>. Timestamps must not decrease within a CPU. Not thread-safe.
/// </remarks>
public sealed partial class TraceDatWriter
{
    private readonly TraceDatWriterOptions _options;
    private readonly List<(string System, string Text, EventFormat Format)> _formats = [];
    private readonly SortedDictionary<int, string> _cmdlines = [];
    private readonly CpuPages[] _cpus;
    private readonly List<(string Name, CpuPages[] Cpus)> _instances = [];
    private readonly List<(ushort Id, byte[] Data)> _extraOptions = [];

    /// <summary>Creates a writer.</summary>
    public TraceDatWriter(TraceDatWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Version is not (6 or 7) || options.Cpus < 1 || options.PageSize < 256 || (options.Version == 6 && options.Compression != "none") || options.KernelLongSize is not (4 or 8))
        {
            throw new ArgumentException("version 6 or 7, at least one CPU, a page of 256+ bytes; compression only with v7", nameof(options));
        }

        _options = options;
        _cpus = NewCpus();
        _instances.Add(("", _cpus));
    }

    /// <summary>Adds an OFFSET option: nanoseconds readers add to every timestamp (written as decimal text, NUL-terminated).</summary>
    public void SetTimestampOffset(long offset) =>
        _extraOptions.Add((7, Encoding.ASCII.GetBytes(offset.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0")));

    /// <summary>Adds a GUEST option (13): a guest traced with this host, and the host thread of each of its vCPUs.</summary>
    public void AddGuest(string name, ulong traceId, IEnumerable<TraceGuestVcpu> vcpus)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(vcpus);
        var list = vcpus.ToList();
        var b = new FileBuilder(_options.BigEndian);
        b.Bytes(Encoding.UTF8.GetBytes(name + "\0"));
        b.U64(traceId);
        b.U32((uint)list.Count);
        foreach (var v in list)
        {
            b.U32((uint)v.Vcpu);
            b.U32((uint)v.HostPid);
        }

        _extraOptions.Add((13, b.ToArray()));
    }

    /// <summary>Adds a TSC2NSEC option (u32 mult, u32 shift, u64 offset): readers turn counter values into ns.</summary>
    public void SetTsc2Nsec(uint mult, uint shift, long offset)
    {
        var b = new FileBuilder(_options.BigEndian);
        b.U32(mult);
        b.U32(shift);
        b.U64((ulong)offset);
        _extraOptions.Add((14, b.ToArray()));
    }

    /// <summary>Appends a record to a named buffer instance (<c>trace-cmd record -B NAME</c>); created on first use.</summary>
    public void AddRecord(string instance, int cpu, ulong timestamp, ReadOnlySpan<byte> record)
    {
        ArgumentNullException.ThrowIfNull(instance);
        int i = _instances.FindIndex(x => x.Name == instance);
        if (i < 0)
        {
            _instances.Add((instance, NewCpus()));
            i = _instances.Count - 1;
        }

        var cpus = _instances[i].Cpus;
        if ((uint)cpu >= (uint)cpus.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(cpu));
        }

        cpus[cpu].Add(timestamp, record);
    }

    private CpuPages[] NewCpus() => [.. Enumerable.Range(0, _options.Cpus).Select(_ => new CpuPages(_options.PageSize, _options.KernelLongSize, _options.BigEndian))];

    /// <summary>Adds an event format from its tracefs text; returns it parsed (for <see cref="RecordBuilder"/>).</summary>
    public EventFormat AddFormat(string system, string formatText)
    {
        var f = FormatFileParser.Parse(system, formatText);
        _formats.Add((system, formatText.EndsWith('\n') ? formatText : formatText + "\n", f));
        return f;
    }

    /// <summary>Adds a saved cmdline (pid -> comm).</summary>
    public void AddCmdline(int pid, string comm) => _cmdlines[pid] = comm;

    /// <summary>Appends a record (bytes from common_type on) to <paramref name="cpu"/>'s ring buffer at <paramref name="timestamp"/>.</summary>
    public void AddRecord(int cpu, ulong timestamp, ReadOnlySpan<byte> record)
    {
        if ((uint)cpu >= (uint)_cpus.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(cpu));
        }

        _cpus[cpu].Add(timestamp, record);
    }

    /// <summary>Writes the file to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        using var fs = File.Create(path);
        WriteTo(fs);
    }

    /// <summary>Writes the whole file.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var w = new FileBuilder(_options.BigEndian);
        w.Bytes([0x17, 0x08, 0x44]);
        w.Bytes("tracing"u8);
        w.CString(_options.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.U8((byte)(_options.BigEndian ? 1 : 0));
        w.U8((byte)_options.KernelLongSize);
        w.U32((uint)_options.PageSize);
        if (_options.Version == 6)
        {
            WriteV6(w);
        }
        else
        {
            WriteV7(w);
        }

        w.CopyTo(stream);
    }

    private byte[] HeaderInfo()
    {
        var b = new FileBuilder(_options.BigEndian);
        int longSize = _options.KernelLongSize;
        int data = 8 + longSize;
        string page = $"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:{longSize};\tsigned:1;\n"
            + "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
            + $"\tfield: char data;\toffset:{data};\tsize:{_options.PageSize - data};\tsigned:0;\n";
        const string Event = "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n"
            + "\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n";
        b.Bytes("header_page\0"u8);
        b.U64((ulong)Encoding.ASCII.GetByteCount(page));
        b.Bytes(Encoding.ASCII.GetBytes(page));
        b.Bytes("header_event\0"u8);
        b.U64((ulong)Encoding.ASCII.GetByteCount(Event));
        b.Bytes(Encoding.ASCII.GetBytes(Event));
        return b.ToArray();
    }

    private byte[] FtraceFormats()
    {
        var b = new FileBuilder(_options.BigEndian);
        var ftrace = _formats.Where(f => f.System == "ftrace").ToList();
        b.U32((uint)ftrace.Count);
        foreach (var f in ftrace)
        {
            var t = Encoding.UTF8.GetBytes(f.Text);
            b.U64((ulong)t.Length);
            b.Bytes(t);
        }

        return b.ToArray();
    }

    private byte[] EventSystems()
    {
        var b = new FileBuilder(_options.BigEndian);
        var systems = _formats.Where(f => f.System != "ftrace").GroupBy(f => f.System).ToList();
        b.U32((uint)systems.Count);
        foreach (var g in systems)
        {
            b.CString(g.Key);
            b.U32((uint)g.Count());
            foreach (var f in g)
            {
                var t = Encoding.UTF8.GetBytes(f.Text);
                b.U64((ulong)t.Length);
                b.Bytes(t);
            }
        }

        return b.ToArray();
    }

    private byte[] Cmdlines()
    {
        var sb = new StringBuilder();
        foreach (var (pid, comm) in _cmdlines)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{pid} {comm}\n");
        }

        var t = Encoding.UTF8.GetBytes(sb.ToString());
        var b = new FileBuilder(_options.BigEndian);
        b.U64((ulong)t.Length);
        b.Bytes(t);
        return b.ToArray();
    }

    private void WriteV6(FileBuilder w)
    {
        w.Bytes(HeaderInfo());
        w.Bytes(FtraceFormats());
        w.Bytes(EventSystems());
        w.U32(0); // kallsyms
        w.U32(0); // printk formats
        w.Bytes(Cmdlines());
        w.U32((uint)_cpus.Length);
        var instancePatches = new List<(long At, CpuPages[] Cpus)>();
        if (_extraOptions.Count > 0 || _instances.Count > 1)
        {
            w.Bytes("options  \0"u8);
            foreach (var (id, data) in _extraOptions)
            {
                w.U16(id);
                w.U32((uint)data.Length);
                w.Bytes(data);
            }

            foreach (var (name, cpus) in _instances.Skip(1))
            {
                var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
                w.U16(3);
                w.U32((uint)(8 + nameBytes.Length));
                instancePatches.Add((w.Length, cpus));
                w.U64(0);
                w.Bytes(nameBytes);
            }

            w.U16(0);
        }

        w.Bytes("flyrecord\0"u8);
        WriteFlyrecordTableAndData(w, _cpus);
        foreach (var (at, cpus) in instancePatches)
        {
            w.PadTo(_options.PageSize);
            w.PatchU64(at, (ulong)w.Length);
            w.Bytes("flyrecord\0"u8);
            WriteFlyrecordTableAndData(w, cpus);
        }
    }

    private void WriteFlyrecordTableAndData(FileBuilder w, CpuPages[] cpus)
    {
        long table = w.Length;
        for (int i = 0; i < cpus.Length; i++)
        {
            w.U64(0);
            w.U64(0);
        }

        for (int i = 0; i < cpus.Length; i++)
        {
            w.PadTo(_options.PageSize);
            long at = w.Length;
            var pages = cpus[i].Finish();
            w.Bytes(pages);
            w.PatchU64(table + (16 * i), (ulong)at);
            w.PatchU64(table + (16 * i) + 8, (ulong)pages.Length);
        }
    }
}
