using System.Collections.Immutable;
using System.Text;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// The metadata of a trace-cmd <c>trace.dat</c> file (versions 6 and 7, either endianness, 32- or 64-bit kernels):
/// event formats, saved cmdlines, options and the location of every CPU's ring-buffer data. Records are read with
/// <see cref="CreateReader"/>.
/// </summary>
/// <remarks>
/// Source of the file model: ../shared/research/traces.md section 2 (verified byte by byte on the samples) and the
/// trace-cmd.dat(5) v6/v7 manual pages. Opening reads only metadata; record data is read on demand, a sub-buffer or a
/// compressed chunk at a time per CPU, so memory stays bounded whatever the file size. Not thread-safe while a reader
/// is running over it; two readers may run on two instances.
/// </remarks>
public sealed partial class TraceDatFile : IDisposable, ICommResolver
{
    private static readonly byte[] s_magic = [0x17, 0x08, 0x44, (byte)'t', (byte)'r', (byte)'a', (byte)'c', (byte)'i', (byte)'n', (byte)'g'];
    private readonly TraceInput _input;
    private readonly bool _ownsInput;
    private bool _disposed;
    private readonly List<TraceOption> _options = [];
    private readonly List<TraceBuffer> _buffers = [];
    private readonly Dictionary<int, string> _cmdlines = [];

    private TraceDatFile(TraceInput input, bool ownsInput)
    {
        _input = input;
        _ownsInput = ownsInput;
    }

    /// <summary>The file's path or name.</summary>
    public string Name => _input.Name;

    /// <summary>File version: 6 or 7.</summary>
    public int Version { get; private set; }

    /// <summary>True for big-endian files.</summary>
    public bool IsBigEndian { get; private set; }

    /// <summary>The recording userspace's long size (4 or 8).</summary>
    public int UserLongSize { get; private set; }

    /// <summary>The traced kernel's long size (the page header's commit word size).</summary>
    public int KernelLongSize => PageHeader.CommitSize;

    /// <summary>The host page size from the file header.</summary>
    public int PageSize { get; private set; }

    /// <summary>Compression of v7 sections and chunks: <c>none</c>, <c>zstd</c> or <c>zlib</c>.</summary>
    public string Compression { get; private set; } = "none";

    /// <summary>The compression library version string as written in the file.</summary>
    public string CompressionVersion { get; private set; } = "";

    /// <summary>Number of CPUs the file declares.</summary>
    public int CpuCount { get; private set; }

    /// <summary>The ring-buffer page header layout.</summary>
    public PageHeaderLayout PageHeader { get; private set; }

    /// <summary>Every event format in the file (ftrace-internal ones included).</summary>
    public TraceFormats Formats { get; private set; } = new();

    private readonly List<string> _formatErrors = [];

    /// <summary>
    /// Event formats of the file that could not be read, each with where and why; their events' records are counted
    /// as records of an unknown event (<see cref="TraceReadStats.UnknownEventRecords"/>) and the rest of the trace is read.
    /// </summary>
    public IReadOnlyList<string> FormatErrors => _formatErrors;

    /// <summary>Options in file order (BUFFER and section-offset options of v7 included).</summary>
    public IReadOnlyList<TraceOption> Options => _options;

    /// <summary>Ring-buffer instances; the top instance (name "") first when present.</summary>
    public IReadOnlyList<TraceBuffer> Buffers => _buffers;

    /// <summary>pid -> comm from the saved cmdlines.</summary>
    public IReadOnlyDictionary<int, string> Cmdlines => _cmdlines;

    /// <summary>The trace clock: the bracketed word of TRACECLOCK or the top buffer's clock; "" when unknown.</summary>
    public string Clock { get; private set; } = "";

    /// <summary>Guests traced with this host (GUEST options, <c>trace-cmd record -A</c>): each vCPU's host thread.</summary>
    public IReadOnlyList<TraceGuest> Guests => _guests;

    private readonly List<TraceGuest> _guests = [];

    /// <summary>Nanoseconds added to every timestamp (OFFSET option), after <see cref="Tsc2Nsec"/>.</summary>
    public long TimestampOffset { get; private set; }

    /// <summary>TSC2NSEC conversion (mult, shift, offset) when the file has that option.</summary>
    public (uint Mult, uint Shift, long Offset)? Tsc2Nsec { get; private set; }

    /// <summary>True when the file holds latency-format text instead of ring-buffer data.</summary>
    public bool IsLatencyText { get; private set; }

    /// <summary>Opens and reads the metadata of the file at <paramref name="path"/>.</summary>
    /// <exception cref="TraceFormatException">The file is not a readable trace.dat; the message names the offset.</exception>
    public static TraceDatFile Open(string path) => Open(TraceInput.FromFile(path), ownsInput: true);

    /// <summary>Reads the metadata of a trace.dat held by <paramref name="input"/>.</summary>
    public static TraceDatFile Open(TraceInput input, bool ownsInput = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        var file = new TraceDatFile(input, ownsInput);
        try
        {
            file.ReadMetadata();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>True when <paramref name="head"/> starts with the trace.dat magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= 3 && head[0] == 0x17 && head[1] == 0x08 && head[2] == 0x44;

    /// <summary>Creates a reader of the records of one instance (default: the top instance), merged across CPUs by time.</summary>
    /// <exception cref="ArgumentException">No instance has that name.</exception>
    public TraceDatReader CreateReader(string instance = "")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var buffer = _buffers.FirstOrDefault(b => b.Name == instance)
            ?? (instance.Length == 0 ? new TraceBuffer("", Clock, PageSize, false, []) : throw new ArgumentException($"{Name}: no buffer instance named '{instance}'", nameof(instance)));
        return new TraceDatReader(this, _input, buffer);
    }

    /// <summary>The comm for a pid as trace-cmd prints it: saved cmdline, <c>&lt;idle&gt;</c> for 0, else <c>&lt;...&gt;</c>.</summary>
    public string CommOf(int pid) => _cmdlines.TryGetValue(pid, out var c) ? c : pid == 0 ? "<idle>" : "<...>";

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        if (_ownsInput)
        {
            _input.Dispose();
        }
    }

    private void ReadMetadata()
    {
        Span<byte> head = stackalloc byte[32];
        int n = _input.ReadAt(0, head);
        if (n < 10 || !head[..10].SequenceEqual(s_magic))
        {
            throw new TraceFormatException($"{Name}: not a trace.dat file: wrong magic at offset 0x0 (expected 17 08 44 'tracing')");
        }

        int nul = head[10..n].IndexOf((byte)0);
        if (nul < 0 || nul > 8)
        {
            throw new TraceFormatException($"{Name}: bad version string at offset 0xa");
        }

        string version = Encoding.ASCII.GetString(head.Slice(10, nul));
        long pos = 10 + nul + 1;
        if (version is not ("6" or "7"))
        {
            throw new TraceFormatException($"{Name}: unsupported trace.dat version '{version}' at offset 0xa (FastRmp reads versions 6 and 7)");
        }

        Version = version[0] - '0';
        if (n < pos + 6)
        {
            throw new TraceFormatException($"{Name}: truncated: file header ends at offset 0x{n:x}");
        }

        byte endian = head[(int)pos];
        if (endian > 1)
        {
            throw new TraceFormatException($"{Name}: bad endian byte {endian} at offset 0x{pos:x}");
        }

        IsBigEndian = endian == 1;
        UserLongSize = head[(int)pos + 1];
        var c = new ByteCursor(head[(int)(pos + 2)..n], pos + 2, IsBigEndian, Name);
        PageSize = (int)c.U32("page size");
        if (PageSize is < 64 or > 16 * 1024 * 1024)
        {
            throw new TraceFormatException($"{Name}: implausible page size {PageSize} at offset 0x{pos + 2:x}");
        }

        pos += 6;
        if (Version == 6)
        {
            ReadV6(pos);
        }
        else
        {
            ReadV7(pos);
        }

        if (PageHeader.DataOffset == 0)
        {
            throw new TraceFormatException($"{Name}: no header_page found");
        }

        _buffers.Sort((a, b) => a.Name.Length == 0 ? (b.Name.Length == 0 ? 0 : -1) : b.Name.Length == 0 ? 1 : 0);
        if (Clock.Length == 0 && _buffers.Count > 0)
        {
            Clock = _buffers[0].Clock;
        }
    }
}
