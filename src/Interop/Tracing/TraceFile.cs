using FastRmp.Interop.Tracing.Perf;
using Microsoft.Win32.SafeHandles;

namespace FastRmp.Interop.Tracing;

/// <summary>The kinds of trace input FastRmp reads.</summary>
public enum TraceFileKind
{
    /// <summary>trace-cmd trace.dat (v6 or v7).</summary>
    TraceDat,

    /// <summary>tracefs <c>trace</c> or <c>trace_pipe</c> text.</summary>
    Tracefs,

    /// <summary><c>trace-cmd report</c> text.</summary>
    TraceCmdReport,

    /// <summary><c>perf script</c> text.</summary>
    PerfScript,

    /// <summary><c>perf record</c>'s binary perf.data (file or pipe mode), tracepoint samples.</summary>
    PerfData,
}

/// <summary>The one entry point: opens a path, detects the format from its content and streams records. Stateless: thread-safe; each reader it opens is not.</summary>
public static partial class TraceFile
{
    /// <summary>Opens <paramref name="path"/> and returns a reader of its records, whatever the format.</summary>
    /// <remarks>
    /// A regular file is read in place. A pipe, a FIFO or <c>/dev/stdin</c> is read once, forward: text streams
    /// through, a trace.dat is spooled to a temporary file (<see cref="TraceSpool"/>). Compressed content (gzip, xz,
    /// zstd, told by its magic bytes, not its name) is decompressed as a stream the same way.
    /// </remarks>
    /// <exception cref="TraceFormatException">The content is not a supported trace; the message says why and where.</exception>
    public static ITraceReader OpenReader(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return OpenHandle(handle, path);
    }

    /// <summary>Reads the process's standard input (a pipe, a redirected file or a terminal), named <c>&lt;stdin&gt;</c> in messages.</summary>
    /// <exception cref="TraceFormatException">The content is not a supported trace.</exception>
    public static ITraceReader OpenStandardInput() =>
        OpenHandle(new SafeFileHandle(0, ownsHandle: false), StandardInputName);

    /// <summary>
    /// Reads a trace from a forward-only <paramref name="stream"/> (owned by the reader): text streams through, a
    /// trace.dat is spooled to a temporary file, compressed content is decompressed as it is read.
    /// </summary>
    /// <exception cref="TraceFormatException">The content is not a supported trace.</exception>
    public static ITraceReader OpenReader(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            return OpenStream(stream, name, decompressed: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The files of a <c>trace-cmd report -i a.dat -i b.dat</c> text that <paramref name="reader"/> reads (see
    /// <see cref="TextTraceReader.Sources"/>; known after the first record); empty for every other input.
    /// </summary>
    public static IReadOnlyList<string> ReportSources(ITraceReader reader) => Text(reader)?.Sources ?? [];

    /// <summary>Makes <paramref name="reader"/> (a several-file <c>trace-cmd report</c> text, not yet read) deliver only the records of file <paramref name="source"/> of its <see cref="ReportSources"/>.</summary>
    /// <exception cref="ArgumentException">The input is not text.</exception>
    public static void SelectReportSource(ITraceReader reader, int source)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(source);
        (Text(reader) ?? throw new ArgumentException("only trace-cmd report text has several files", nameof(reader))).OnlySource = source;
    }

    /// <summary>The guests a host's trace.dat names in its GUEST options (<see cref="TraceDatFile.Guests"/>); empty for every other input.</summary>
    public static IReadOnlyList<TraceGuest> GuestsOf(ITraceReader reader) => reader switch
    {
        TraceDatReader t => t.File.Guests,
        OwningReader { File: TraceDatFile f } => f.Guests,
        WholeFileCompressed w => GuestsOf(w.Inner),
        _ => [],
    };

    private static TextTraceReader? Text(ITraceReader reader) => reader switch
    {
        TextTraceReader t => t,
        WholeFileCompressed w => w.Inner as TextTraceReader,
        _ => null,
    };

    /// <summary>The name standard input has in messages.</summary>
    public const string StandardInputName = "<stdin>";

    private static ITraceReader OpenHandle(SafeFileHandle handle, string name)
    {
        // The stream owns the handle; standard input's handle does not own fd 0, so disposing it leaves fd 0 open.
        FileStream stream;
        try
        {
            stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        try
        {
            if (!stream.CanSeek || stream.Position != 0)
            {
                return OpenStream(stream, name, decompressed: false);
            }

            long length = RandomAccess.GetLength(handle);
            var head = new byte[(int)Math.Min(length, HeadBytes)];
            int n = RandomAccess.Read(handle, head, 0);
            n = GrowHead(ref head, n, (buffer, at) => at + RandomAccess.Read(handle, buffer.AsSpan(at, (int)Math.Min(buffer.Length - at, Math.Max(0, length - at))), at));
            var headSpan = head.AsSpan(0, n);
            if (TraceCompression.Detect(headSpan) != TraceCompressionKind.None)
            {
                return OpenStream(stream, name, decompressed: false);
            }

            var kind = Detect(headSpan, name);
            if (kind == TraceFileKind.TraceDat)
            {
                return Flyrecord(TraceDatFile.Open(TraceInput.FromHandle(handle, name, stream), ownsInput: true), name);
            }

            if (kind == TraceFileKind.PerfData)
            {
                return Perf(PerfDataFile.Open(TraceInput.FromHandle(handle, name, stream), ownsInput: true));
            }

            return new TextTraceReader(stream, kind, name);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private const int HeadBytes = 64 * 1024;
    private const int MaxHeadBytes = 4 << 20;
    private const int HeadLines = 16;

    /// <summary>
    /// A text head full of a few long lines (issue 18, item 9: one long line before the first event made the detector
    /// see a single line and refuse the file): while the head is full, holds fewer than <see cref="HeadLines"/> line
    /// ends and is neither a trace.dat nor compressed, it is read further, up to <see cref="MaxHeadBytes"/>. Returns the
    /// bytes now in <paramref name="head"/>; <paramref name="readMore"/> fills the buffer from an offset and returns
    /// the new total.
    /// </summary>
    private static int GrowHead(ref byte[] head, int n, Func<byte[], int, int> readMore)
    {
        while (n == head.Length && head.Length < MaxHeadBytes && !TraceDatFile.HasMagic(head) && !PerfDataFile.HasMagic(head)
            && TraceCompression.Detect(head.AsSpan(0, n)) == TraceCompressionKind.None
            && head.AsSpan(0, n).Count((byte)'\n') < HeadLines)
        {
            Array.Resize(ref head, Math.Min(head.Length * 4, MaxHeadBytes));
            n = readMore(head, n);
        }

        return n;
    }

    private static ITraceReader OpenStream(Stream stream, string name, bool decompressed)
    {
        var head = new byte[HeadBytes];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        n = GrowHead(ref head, n, (buffer, at) => at + stream.ReadAtLeast(buffer.AsSpan(at), buffer.Length - at, throwOnEndOfStream: false));
        var compression = TraceCompression.Detect(head.AsSpan(0, n));
        if (compression != TraceCompressionKind.None)
        {
            if (decompressed)
            {
                throw new TraceFormatException($"{name}: compressed twice ({compression} inside); decompress it once by hand and pass the result");
            }

            var inner = TraceCompression.Decompress(compression, new PrefixedStream(head, n, stream), name);
            try
            {
                return new WholeFileCompressed(OpenStream(inner, name, decompressed: true), compression);
            }
            catch
            {
                inner.Dispose();
                throw;
            }
        }

        var kind = Detect(head.AsSpan(0, n), name);
        var content = new PrefixedStream(head, n, stream);
        if (kind == TraceFileKind.TraceDat)
        {
            TraceInput spooled;
            using (content)
            {
                spooled = TraceSpool.Spool(content, name);
            }

            return Flyrecord(TraceDatFile.Open(spooled, ownsInput: true), name);
        }

        if (kind == TraceFileKind.PerfData)
        {
            if (PerfDataFile.IsPipeHead(head.AsSpan(0, n)))
            {
                // Pipe mode is made for this: metadata and records arrive in order, read forward once.
                return Perf(PerfDataFile.OpenPipe(content, name));
            }

            // File mode keeps its metadata at the end: spooled like a trace.dat.
            TraceInput spooled;
            using (content)
            {
                spooled = TraceSpool.Spool(content, name);
            }

            return Perf(PerfDataFile.Open(spooled, ownsInput: true));
        }

        return new TextTraceReader(content, kind, name);
    }

    private static OwningReader Flyrecord(TraceDatFile file, string name)
    {
        if (file.IsLatencyText)
        {
            file.Dispose();
            throw new TraceFormatException($"{name}: this trace.dat holds latency-format text, which FastRmp does not read; record with flyrecord (the default)");
        }

        return new OwningReader(file, file.CreateReader());
    }

    private static OwningReader Perf(PerfDataFile file)
    {
        try
        {
            return new OwningReader(file, file.CreateReader());
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Detects the format of the file at <paramref name="path"/> from its first bytes.</summary>
    public static TraceFileKind Detect(string path)
    {
        using var input = TraceInput.FromFile(path);
        var head = new byte[Math.Min(input.Length, 64 * 1024)];
        int n = input.ReadAt(0, head);
        return Detect(head.AsSpan(0, n), path);
    }

    /// <summary>Detects the format of content starting with <paramref name="head"/>.</summary>
    public static TraceFileKind Detect(ReadOnlySpan<byte> head, string name = "<memory>")
    {
        if (head.IsEmpty)
        {
            throw new TraceFormatException($"{name}: empty input (no bytes)");
        }

        if (TraceDatFile.HasMagic(head))
        {
            return TraceDatFile.HasMagic(head) && head.Length >= 10 && head[3..10].SequenceEqual("tracing"u8)
                ? TraceFileKind.TraceDat
                : throw new TraceFormatException($"{name}: starts like a trace.dat but the magic at offset 0x0 is wrong");
        }

        if (PerfDataFile.HasMagic(head))
        {
            return TraceFileKind.PerfData;
        }

        if (head.StartsWith("PERFFILE"u8))
        {
            throw new TraceFormatException($"{name}: this is a perf.data of the first version ('PERFFILE' magic), which FastRmp does not read; record again with a perf of this decade (PERFILE2)");
        }

        return TextFormatDetector.Detect(head, name);
    }

    /// <summary>A reader of decompressed content whose <see cref="ITraceReader.Info"/> also names the whole-file compression.</summary>
    private sealed class WholeFileCompressed(ITraceReader inner, TraceCompressionKind compression) : ISplittableReader
    {
        private readonly TraceSourceInfo _info = inner.Info with
        {
            Compression = inner.Info.Compression == "none"
                ? $"{compression.ToString().ToLowerInvariant()} (whole file)"
                : $"{compression.ToString().ToLowerInvariant()} (whole file), {inner.Info.Compression} (inside)",
        };

        public TraceSourceInfo Info => _info;

        public TraceReadStats Stats => inner.Stats;

        public TraceFormats Formats => inner.Formats;

        public bool MoveNext(out TraceRecord record) => inner.MoveNext(out record);

        public ITraceReader[]? Split() => inner is ISplittableReader s ? s.Split() : null;

        public ITraceReader Inner => inner;

        public void Dispose() => inner.Dispose();
    }

    /// <summary>A reader that also owns the file it reads (trace.dat or perf.data): disposing it closes both.</summary>
    private sealed class OwningReader(IDisposable file, ITraceReader reader) : ISplittableReader
    {
        public IDisposable File => file;

        public ITraceReader[]? Split() => reader is ISplittableReader s ? s.Split() : null;

        public TraceReadStats Stats => reader.Stats;

        public TraceSourceInfo Info => reader.Info;

        public TraceFormats Formats => reader.Formats;

        public bool MoveNext(out TraceRecord record) => reader.MoveNext(out record);

        public void Dispose()
        {
            reader.Dispose();
            file.Dispose();
        }
    }
}

/// <summary>A reader whose records can also be read as independent parts (a trace.dat's CPUs), for <see cref="TraceScan"/>.</summary>
internal interface ISplittableReader : ITraceReader
{
    /// <summary>Readers of the parts, in CPU order, or null when the input is one stream; the caller disposes them.</summary>
    ITraceReader[]? Split();
}
