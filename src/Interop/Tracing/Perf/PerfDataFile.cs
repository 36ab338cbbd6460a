using System.Collections.Immutable;
using System.Numerics;

namespace FastRmp.Interop.Tracing.Perf;

/// <summary>
/// The metadata of a <c>perf.data</c> file written by <c>perf record</c>: the header, the event attributes with their
/// sample ids, the feature sections (above all HEADER_TRACING_DATA, the tracefs formats) and where the records are.
/// Records are read with <see cref="CreateReader()"/>.
/// </summary>
/// <remarks>
/// Source: tools/perf/Documentation/perf.data-file-format.txt and tools/perf/util/header.c of Linux 6.18 (read for
/// the layout, nothing copied): a 104-byte <c>perf_file_header</c> (magic <c>PERFILE2</c>, header size, attr entry
/// size, the attrs, data and event-types sections, a 256-bit feature bitmap), feature sections indexed by a table
/// right after the data section, in bitmap order. Pipe-mode files (<c>perf record -o -</c>, a 16-byte header) carry
/// the same metadata as records in the stream instead: see <see cref="OpenPipe"/>. Either byte order is read (the
/// magic tells which); only little-endian files were available to test against. Every offset and size is checked
/// against the file's length before anything is allocated or read. Not thread-safe while being filled (pipe mode).
/// </remarks>
public sealed partial class PerfDataFile : IDisposable
{
    /// <summary>The header size of a file-mode perf.data (<c>sizeof(struct perf_file_header)</c>).</summary>
    public const int FileHeaderSize = 104;

    /// <summary>The header size of a pipe-mode perf.data (<c>sizeof(struct perf_pipe_file_header)</c>).</summary>
    public const int PipeHeaderSize = 16;

    /// <summary>Feature bit of HEADER_TRACING_DATA.</summary>
    public const int TracingDataFeature = 1;

    private const int MaxMetadataBytes = 1 << 30;
    private const int MaxAttrs = 1 << 16;

    /// <summary>The most sample ids kept over all attributes (a real file has one per attribute and CPU or thread).</summary>
    private const int MaxIds = 1 << 24;

    private long _idCount;

    private readonly TraceInput? _input;
    private readonly Stream? _pipe;
    private readonly bool _ownsInput;
    private readonly List<PerfEventAttr> _attrs = [];
    private readonly List<int> _features = [];
    private readonly List<string> _formatErrors = [];
    private readonly Dictionary<int, string> _cmdlines = [];
    private bool _pipeReaderCreated;

    private PerfDataFile(string name, TraceInput? input, Stream? pipe, bool ownsInput)
    {
        Name = name;
        _input = input;
        _pipe = pipe;
        _ownsInput = ownsInput;
    }

    /// <summary>The file's path or name.</summary>
    public string Name { get; }

    /// <summary>True for a pipe-mode file (<c>perf record -o -</c>): metadata arrives as records, read forward once.</summary>
    public bool IsPipe => _pipe is not null;

    /// <summary>True for a file written by a big-endian host.</summary>
    public bool IsBigEndian { get; private set; }

    /// <summary>The event attributes in file order.</summary>
    public IReadOnlyList<PerfEventAttr> Attrs => _attrs;

    /// <summary>The feature bits present (file mode: the header's bitmap; pipe mode: the HEADER_FEATURE records seen so far).</summary>
    public IReadOnlyList<int> Features => _features;

    /// <summary>File offset of the data section (pipe mode: the first record after the 16-byte header).</summary>
    public long DataOffset { get; private set; }

    /// <summary>Size of the data section as the header declares it (pipe mode: -1, unknown).</summary>
    public long DataSize { get; private set; }

    /// <summary>The tracefs formats from HEADER_TRACING_DATA (empty until it is read, in pipe mode).</summary>
    public TraceFormats Formats { get; private set; } = new();

    /// <summary>Event formats of the tracing data that could not be read, each with where and why.</summary>
    public IReadOnlyList<string> FormatErrors => _formatErrors;

    /// <summary>pid -> comm from the tracing data's saved cmdlines (perf itself names tasks from COMM records instead).</summary>
    public IReadOnlyDictionary<int, string> Cmdlines => _cmdlines;

    /// <summary>The traced kernel's <c>long</c> size from the tracing data (0 until it is read).</summary>
    public int KernelLongSize { get; private set; }

    /// <summary>HEADER_HOSTNAME, or "".</summary>
    public string Hostname { get; private set; } = "";

    /// <summary>HEADER_OSRELEASE (the traced kernel's release), or "".</summary>
    public string OsRelease { get; private set; } = "";

    /// <summary>HEADER_VERSION (the recording perf's version), or "".</summary>
    public string PerfVersion { get; private set; } = "";

    /// <summary>HEADER_ARCH, or "".</summary>
    public string Arch { get; private set; } = "";

    /// <summary>HEADER_NRCPUS: CPUs available on the recording host (0 when absent).</summary>
    public int CpuCount { get; private set; }

    /// <summary>Record compression: <c>none</c>, or <c>zstd</c> when HEADER_COMPRESSED says so (<c>perf record -z</c>).</summary>
    public string Compression { get; private set; } = "none";

    /// <summary>HEADER_COMPRESSED's mmap length (the most bytes one compressed record decompresses to), 0 when absent.</summary>
    public long CompressedMmapLength { get; private set; }

    /// <summary>The clock of the sample times: <c>perf</c> (perf's local clock, the default) or the attribute's <c>clockid</c> name.</summary>
    public string Clock
    {
        get
        {
            var attr = _attrs.FirstOrDefault(a => a.UsesClockId);
            return attr is null ? "perf" : attr.ClockId switch
            {
                0 => "realtime",
                1 => "monotonic",
                4 => "monotonic_raw",
                7 => "boottime",
                11 => "tai",
                _ => $"clockid {attr.ClockId}",
            };
        }
    }

    /// <summary>True when <paramref name="head"/> starts with a perf.data magic (<c>PERFILE2</c> in either byte order).</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.StartsWith("PERFILE2"u8) || head.StartsWith("2ELIFREP"u8);

    /// <summary>True when <paramref name="head"/> is the start of a pipe-mode perf.data (header size 16).</summary>
    public static bool IsPipeHead(ReadOnlySpan<byte> head) =>
        HasMagic(head) && head.Length >= 16 && new PerfByteOrder(head[0] == (byte)'2').U64(head, 8) == PipeHeaderSize;

    /// <summary>Opens and reads the metadata of the perf.data at <paramref name="path"/> (file or pipe mode).</summary>
    /// <exception cref="TraceFormatException">Not a readable perf.data; the message names the offset.</exception>
    public static PerfDataFile Open(string path) => Open(TraceInput.FromFile(path), ownsInput: true);

    /// <summary>Reads the metadata of a perf.data held by <paramref name="input"/> (a pipe-mode file is read forward from it).</summary>
    /// <exception cref="TraceFormatException">Not a readable perf.data; the message names the offset.</exception>
    public static PerfDataFile Open(TraceInput input, bool ownsInput = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        Span<byte> head = stackalloc byte[16];
        int n = input.ReadAt(0, head);
        if (n >= 16 && IsPipeHead(head))
        {
            return OpenPipe(new TraceInputStream(input, ownsInput), input.Name);
        }

        var file = new PerfDataFile(input.Name, input, null, ownsInput);
        try
        {
            file.ReadFileHeader();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a pipe-mode perf.data (<c>perf record -o -</c>) from <paramref name="stream"/> (owned): the 16-byte header
    /// now; attributes, tracing data and features as the reader meets their records.
    /// </summary>
    /// <exception cref="TraceFormatException">The stream does not start with a pipe-mode perf.data header.</exception>
    public static PerfDataFile OpenPipe(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var file = new PerfDataFile(name, null, stream, ownsInput: true);
        try
        {
            Span<byte> head = stackalloc byte[PipeHeaderSize];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (n < PipeHeaderSize || !IsPipeHead(head))
            {
                throw new TraceFormatException($"{name}: not a pipe-mode perf.data: the 16-byte header at offset 0x0 is {(n < PipeHeaderSize ? "truncated" : "wrong")} (expected 'PERFILE2' and size 16)");
            }

            file.IsBigEndian = head[0] == (byte)'2';
            file.DataOffset = PipeHeaderSize;
            file.DataSize = -1;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Creates a reader of the records in timestamp order (a pipe-mode file: once only, the stream is read forward).</summary>
    /// <exception cref="InvalidOperationException">A second reader of a pipe-mode file.</exception>
    public PerfDataReader CreateReader() => CreateReader(PerfEventQueue.MaxEntries);

    /// <summary>A reader whose ordering window holds at most <paramref name="windowRecords"/> records (tests).</summary>
    internal PerfDataReader CreateReader(int windowRecords)
    {
        if (_pipe is not null)
        {
            if (_pipeReaderCreated)
            {
                throw new InvalidOperationException($"{Name}: a pipe-mode perf.data is read once; open it again for a second reader");
            }

            _pipeReaderCreated = true;
            return new PerfDataReader(this, new PerfRecordStream(_pipe, DataOffset, Name, Order), windowRecords);
        }

        return new PerfDataReader(this, new PerfRecordStream(_input!, DataOffset, DataSize, Name, Order), windowRecords);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsInput)
        {
            _input?.Dispose();
            _pipe?.Dispose();
        }
    }

    internal PerfByteOrder Order => new(IsBigEndian);

    /// <summary>Adds an attribute met in the stream (pipe mode's HEADER_ATTR).</summary>
    internal void AddAttr(PerfEventAttr attr)
    {
        if (_attrs.Count >= MaxAttrs)
        {
            throw new TraceFormatException($"{Name}: more than {MaxAttrs} event attributes");
        }

        _idCount += attr.Ids.Length;
        if (_idCount > MaxIds)
        {
            throw new TraceFormatException($"{Name}: more than {MaxIds} sample ids over all event attributes");
        }

        _attrs.Add(attr);
    }

    /// <summary>Reads the tracing data (feature section or pipe-mode record) and takes its formats and cmdlines.</summary>
    internal void SetTracingData(ReadOnlySpan<byte> bytes, long offset)
    {
        using var tracing = TraceDatFile.ReadEmbedded(bytes, offset, Name);
        Formats = tracing.Formats;
        _formatErrors.AddRange(tracing.FormatErrors);
        foreach (var (pid, comm) in tracing.Cmdlines)
        {
            _cmdlines[pid] = comm;
        }

        KernelLongSize = tracing.KernelLongSize;
    }

    private void ReadFileHeader()
    {
        var input = _input!;
        if (input.Length < FileHeaderSize)
        {
            throw new TraceFormatException($"{Name}: truncated: a perf.data header needs {FileHeaderSize} bytes at offset 0x0, the file has {input.Length}");
        }

        var head = new byte[FileHeaderSize];
        input.ReadExactly(0, head, "perf.data header");
        if (!HasMagic(head))
        {
            throw new TraceFormatException($"{Name}: not a perf.data file: wrong magic at offset 0x0 (expected 'PERFILE2')");
        }

        IsBigEndian = head[0] == (byte)'2';
        var o = Order;
        ulong headerSize = o.U64(head, 8);
        if (headerSize != FileHeaderSize)
        {
            throw new TraceFormatException($"{Name}: perf.data header size {headerSize} at offset 0x8 is not {FileHeaderSize} (file mode) or {PipeHeaderSize} (pipe mode)");
        }

        ulong attrSize = o.U64(head, 16);
        var attrs = Section(o, head, 24, "attrs");
        var data = Section(o, head, 40, "data");
        DataOffset = data.Offset;
        DataSize = data.Size;
        if (attrs.Size > 0)
        {
            if (attrSize < PerfEventAttr.MinSize + 16 || attrSize > 64 * 1024)
            {
                throw new TraceFormatException($"{Name}: attr entry size {attrSize} at offset 0x10 is implausible (an attr entry is perf_event_attr, at least {PerfEventAttr.MinSize} bytes, plus a 16-byte ids section)");
            }

            ReadAttrs(attrs.Offset, attrs.Size, (int)attrSize);
        }

        ReadFeatures(head, data);
    }

    private (long Offset, long Size) Section(PerfByteOrder o, ReadOnlySpan<byte> bytes, int at, string what, long baseOffset = 0)
    {
        ulong off = o.U64(bytes, at);
        ulong size = o.U64(bytes, at + 8);
        long length = _input!.Length;
        if (off > (ulong)length || size > (ulong)length - off)
        {
            if (what == "data" && off <= (ulong)length)
            {
                // A data section that runs past the end is a truncated file: the reader reads what is there and
                // reports the rest as damage.
                return ((long)off, (long)Math.Min(size, long.MaxValue));
            }

            throw new TraceFormatException($"{Name}: {what} section (offset 0x{off:x}, size {size}, described at offset 0x{baseOffset + at:x}) runs past the end of the file ({length} bytes)");
        }

        return ((long)off, (long)size);
    }

    private void ReadAttrs(long offset, long size, int attrSize)
    {
        long count = size / attrSize;
        if (count > MaxAttrs)
        {
            throw new TraceFormatException($"{Name}: {count} event attributes at offset 0x{offset:x}, more than {MaxAttrs}");
        }

        var entry = new byte[attrSize];
        var o = Order;
        for (long i = 0; i < count; i++)
        {
            long at = offset + (i * attrSize);
            _input!.ReadExactly(at, entry, "perf_file_attr");
            var ids = Section(o, entry, attrSize - 16, $"ids of attr {i}", at);
            if (ids.Size / 8 > MaxIds - _idCount)
            {
                throw new TraceFormatException($"{Name}: ids section of attr {i} (entry at offset 0x{at:x}) has {ids.Size / 8} ids, more than the {MaxIds} FastRmp keeps over all attributes");
            }

            if (ids.Size % 8 != 0)
            {
                throw new TraceFormatException($"{Name}: ids section of attr {i} (entry at offset 0x{at:x}) has size {ids.Size}, not a multiple of 8");
            }

            var idBytes = new byte[ids.Size];
            _input.ReadExactly(ids.Offset, idBytes, $"ids of attr {i}");
            var list = ImmutableArray.CreateBuilder<ulong>(idBytes.Length / 8);
            for (int k = 0; k < idBytes.Length; k += 8)
            {
                list.Add(o.U64(idBytes, k));
            }

            AddAttr(PerfEventAttr.Parse(entry.AsSpan(0, attrSize - 16), o, list.MoveToImmutable(), Name, at));
        }
    }

    private void ReadFeatures(ReadOnlySpan<byte> head, (long Offset, long Size) data)
    {
        var o = Order;
        int count = 0;
        for (int w = 0; w < 4; w++)
        {
            count += BitOperations.PopCount(o.U64(head, 72 + (8 * w)));
        }

        if (count == 0)
        {
            return;
        }

        long tableAt = data.Offset + data.Size;
        long length = _input!.Length;
        if (data.Size > length - data.Offset || (count * 16L) > length - tableAt)
        {
            throw new TraceFormatException($"{Name}: truncated: the feature table ({count} sections) at offset 0x{tableAt:x}, after the data section, runs past the end of the file ({length} bytes); perf record writes it last, so the recording did not finish");
        }

        var table = new byte[count * 16];
        _input.ReadExactly(tableAt, table, "feature table");
        int index = 0;
        for (int bit = 0; bit < 256; bit++)
        {
            if ((o.U64(head, 72 + (8 * (bit / 64))) & (1UL << (bit % 64))) == 0)
            {
                continue;
            }

            var section = Section(o, table, index * 16, $"feature {bit}", tableAt);
            index++;
            _features.Add(bit);
            if (!IsFeatureRead(bit))
            {
                continue;
            }

            if (section.Size > MaxMetadataBytes)
            {
                throw new TraceFormatException($"{Name}: feature {bit} section at offset 0x{section.Offset:x} has {section.Size} bytes, more than FastRmp reads ({MaxMetadataBytes})");
            }

            var bytes = new byte[section.Size];
            _input.ReadExactly(section.Offset, bytes, $"feature {bit}");
            ApplyFeature(bit, bytes, section.Offset);
        }
    }
}
