using System.Text;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Streams records from tracefs, trace-cmd report or perf script text. Reads the input in 1 MiB blocks; lines that
/// are neither events nor known headers are skipped and reported in <see cref="Stats"/> with their line number.
/// </summary>
/// <remarks>
/// Formats: traces.md sections 1.1-1.4. <c>CPU:N [LOST n EVENTS]</c> lines add to <see cref="TraceReadStats.LostEvents"/>.
/// Records carry a field-less format per event name (system known for perf, and for the well-known KVM, ftrace,
/// sched and kmem events otherwise); typed decoders parse the payload text. Lines longer than the block are
/// reported and skipped, so memory stays bounded. Not thread-safe.
/// </remarks>
public sealed class TextTraceReader : ITraceReader
{
    private const int BlockSize = 1 << 20;
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private bool _disposed;
    private readonly bool _perf;
    private readonly string _name;
    private readonly Dictionary<string, EventFormat> _formats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EventFormat>.AlternateLookup<ReadOnlySpan<char>> _formatLookup;
    private readonly Dictionary<int, string> _comms = [];
    private readonly byte[] _buf = new byte[BlockSize];
    private readonly char[] _key = new char[256];
    private char[] _chars = new char[4096];
    private int _start;
    private int _end;
    private bool _eof;
    private bool _skippingLongLine;
    private long _lineNo;
    private int _cpuCount;
    private readonly List<string> _sources = [];

    /// <summary>Creates a reader over <paramref name="stream"/> of the given kind.</summary>
    public TextTraceReader(Stream stream, TraceFileKind kind, string name, bool ownsStream = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = ownsStream;
        _perf = kind == TraceFileKind.PerfScript;
        _name = name;
        Kind = kind;
        _formatLookup = _formats.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The detected text kind.</summary>
    public TraceFileKind Kind { get; }

    /// <inheritdoc/>
    public TraceReadStats Stats { get; } = new();

    /// <inheritdoc/>
    public TraceFormats Formats { get; } = new();

    /// <inheritdoc/>
    public TraceSourceInfo Info => new(_name, Kind, Kind switch
    {
        TraceFileKind.Tracefs => "tracefs text",
        TraceFileKind.TraceCmdReport => "trace-cmd report text",
        _ => "perf script text",
    }, "none", _cpuCount, "");

    /// <summary>Lines read so far.</summary>
    public long LineNumber => _lineNo;

    /// <summary>
    /// The files of a <c>trace-cmd report -i a.dat -i b.dat</c> text, in the order of its <c>NAME: cpus=N</c> header lines
    /// (each event line then starts with its file's name, right-aligned, and a colon); empty for one file. Known once
    /// the header has been read, i.e. after the first <see cref="MoveNext"/>.
    /// </summary>
    public IReadOnlyList<string> Sources => _sources;

    /// <summary>The index in <see cref="Sources"/> of the last record's file (-1 for one file).</summary>
    public int Source { get; private set; } = -1;

    /// <summary>When 0 or more: only the records of that file of <see cref="Sources"/> are read (the others are skipped, not counted as damage); -1 (the default): all.</summary>
    public int OnlySource { get; set; } = -1;

    /// <inheritdoc/>
    public bool MoveNext(out TraceRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (NextLine(out var bytes))
        {
            if (bytes.Length > 0 && bytes[^1] == '\r')
            {
                bytes = bytes[..^1];
            }

            if (bytes.Length > _chars.Length)
            {
                _chars = new char[Math.Max(bytes.Length, _chars.Length * 2)];
            }

            int n = Encoding.UTF8.GetChars(bytes, _chars);
            var line = new ReadOnlySpan<char>(_chars, 0, n);
            if (_sources.Count > 0 && StripSource(ref line) is int source)
            {
                Source = source;
                if (OnlySource >= 0 && source != OnlySource)
                {
                    continue;
                }
            }

            if (TextLineParser.TryParse(line, _perf, out var parsed))
            {
                var format = FormatFor(parsed.System, parsed.Event);
                record = new TraceRecord(parsed.Timestamp, parsed.Cpu, parsed.Pid, CommFor(parsed.Pid, parsed.Comm), format, parsed.Payload, parsed.Tgid);
                return true;
            }

            HandleOtherLine(line);
        }

        record = default;
        return false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        if (_ownsStream)
        {
            _stream.Dispose();
        }
    }

    private void HandleOtherLine(ReadOnlySpan<char> line)
    {
        var t = line.Trim();
        if (t.IsEmpty || t[0] == '#' || t.StartsWith("version =") || (t.StartsWith("CPU ") && t.EndsWith("is empty")))
        {
            return;
        }

        if (t.StartsWith("cpus="))
        {
            _ = int.TryParse(t[5..], out _cpuCount);
            return;
        }

        // trace-cmd report -i a.dat -i b.dat: one "NAME: cpus=N" line per file before the first event.
        int header = t.IndexOf(": cpus=", StringComparison.Ordinal);
        if (header > 0 && int.TryParse(t[(header + 7)..], out int cpus) && _sources.Count < MaxSources)
        {
            string source = t[..header].ToString();
            if (!_sources.Contains(source))
            {
                _sources.Add(source);
            }

            _cpuCount = Math.Max(_cpuCount, cpus);
            return;
        }

        if (t.StartsWith("CPU:") && t.Contains("[LOST ", StringComparison.Ordinal))
        {
            int l = t.IndexOf("[LOST ", StringComparison.Ordinal) + 6;
            int e = t[l..].IndexOf(' ');
            if (e > 0 && long.TryParse(t.Slice(l, e), out long lost))
            {
                Stats.LostEvents += lost;
                Stats.LostEventMarks++;
                return;
            }
        }

        string shown = t.Length > 80 ? string.Concat(t[..80], "...") : t.ToString();
        Stats.AddDamage(new TraceDamage(-1, _lineNo, $"not an event line: {shown}"));
    }

    private const int MaxSources = 4096;

    /// <summary>Removes a leading <c>NAME:</c> of a known file from <paramref name="line"/>; its index in <see cref="Sources"/>, or null when the line has none.</summary>
    private int? StripSource(ref ReadOnlySpan<char> line)
    {
        var t = line.TrimStart(' ');
        for (int i = 0; i < _sources.Count; i++)
        {
            string s = _sources[i];
            if (t.Length > s.Length && t[s.Length] == ':' && t.StartsWith(s, StringComparison.Ordinal))
            {
                line = t[(s.Length + 1)..];
                return i;
            }
        }

        return null;
    }

    private string CommFor(int pid, ReadOnlySpan<char> comm)
    {
        if (_comms.TryGetValue(pid, out var known) && comm.SequenceEqual(known))
        {
            return known;
        }

        string s = comm.ToString();
        if (_comms.Count < 1 << 16)
        {
            _comms[pid] = s;
        }

        return s;
    }

    private EventFormat FormatFor(ReadOnlySpan<char> system, ReadOnlySpan<char> ev)
    {
        Span<char> key = _key;
        ReadOnlySpan<char> lookup = ev;
        if (!system.IsEmpty && system.Length + ev.Length + 1 <= key.Length)
        {
            system.CopyTo(key);
            key[system.Length] = ':';
            ev.CopyTo(key[(system.Length + 1)..]);
            lookup = key[..(system.Length + ev.Length + 1)];
        }

        if (_formatLookup.TryGetValue(lookup, out var f))
        {
            return f;
        }

        string name = ev.ToString();
        string sys = system.IsEmpty ? KnownSystem(name) : system.ToString();
        f = new EventFormat(sys, name, -1, [], "");
        Formats.Add(f);
        _formats[lookup.ToString()] = f;
        return f;
    }

    /// <summary>The system of well-known events, for text that prints only the event name.</summary>
    private static string KnownSystem(string name)
    {
        if (Kvm.KvmEventSpecs.ByName.TryGetValue(name, out var spec))
        {
            return spec.Kind is Kvm.KvmEventKind.SpteRequested or Kvm.KvmEventKind.SetSpte or Kvm.KvmEventKind.TdpMmuSpteChanged
                or Kvm.KvmEventKind.SplitHugePage or Kvm.KvmEventKind.FastPageFault ? "kvmmmu" : "kvm";
        }

        if (name.StartsWith("kvm_mmu_", StringComparison.Ordinal) || name.StartsWith("kvm_tdp_mmu", StringComparison.Ordinal))
        {
            return "kvmmmu";
        }

        if (name.StartsWith("kvm_", StringComparison.Ordinal))
        {
            return "kvm";
        }

        if (name is "print" or "tracing_mark_write" or "bprint" or "bputs")
        {
            return "ftrace";
        }

        if (name.StartsWith("sched_", StringComparison.Ordinal))
        {
            return "sched";
        }

        return name.StartsWith("mm_page", StringComparison.Ordinal) || name.StartsWith("kmem_", StringComparison.Ordinal)
            || name is "kmalloc" or "kfree" ? "kmem" : "";
    }

    /// <summary>The next line's bytes (without the newline); false at the end.</summary>
    private bool NextLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int nl = _buf.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int s = _start;
                _start += nl + 1;
                _lineNo++;
                if (_skippingLongLine)
                {
                    _skippingLongLine = false;
                    continue;
                }

                line = _buf.AsSpan(s, nl);
                return true;
            }

            if (_eof)
            {
                if (_start < _end && !_skippingLongLine)
                {
                    line = _buf.AsSpan(_start, _end - _start);
                    _start = _end;
                    _lineNo++;
                    return true;
                }

                line = default;
                return false;
            }

            if (_start == 0 && _end == _buf.Length)
            {
                // A line longer than the block: report it once and skip to its end (a line of several blocks is
                // still one damaged line).
                if (!_skippingLongLine)
                {
                    Stats.AddDamage(new TraceDamage(-1, _lineNo + 1, $"line longer than {BlockSize} bytes"));
                }

                _skippingLongLine = true;
                _start = _end = 0;
            }

            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            _buf.AsSpan(_start, _end - _start).CopyTo(_buf);
            _end -= _start;
            _start = 0;
        }

        while (_end < _buf.Length)
        {
            int n = _stream.Read(_buf, _end, _buf.Length - _end);
            if (n <= 0)
            {
                _eof = true;
                break;
            }

            _end += n;
            Stats.BytesRead += n;
        }
    }
}
