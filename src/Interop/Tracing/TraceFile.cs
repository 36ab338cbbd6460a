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
}

/// <summary>The one entry point: opens a path, detects the format from its content and streams records.</summary>
public static partial class TraceFile
{
    /// <summary>Opens <paramref name="path"/> and returns a reader of its records, whatever the format.</summary>
    /// <exception cref="TraceFormatException">The content is not a supported trace; the message says why and where.</exception>
    public static ITraceReader OpenReader(string path)
    {
        var kind = Detect(path);
        if (kind == TraceFileKind.TraceDat)
        {
            var file = TraceDatFile.Open(path);
            if (file.IsLatencyText)
            {
                file.Dispose();
                throw new TraceFormatException($"{path}: this trace.dat holds latency-format text, which FastRmp does not read; record with flyrecord (the default)");
            }

            return new OwningReader(file, file.CreateReader());
        }

        return OpenText(path, kind);
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
        if (TraceDatFile.HasMagic(head))
        {
            return TraceDatFile.HasMagic(head) && head.Length >= 10 && head[3..10].SequenceEqual("tracing"u8)
                ? TraceFileKind.TraceDat
                : throw new TraceFormatException($"{name}: starts like a trace.dat but the magic at offset 0x0 is wrong");
        }

        if (head.StartsWith("PERFILE2"u8) || head.StartsWith("PERFFILE"u8))
        {
            throw new TraceFormatException($"{name}: this is perf.data; convert it with 'perf script --ns > FILE.txt' and read the text");
        }

        return TextFormatDetector.Detect(head, name);
    }

    private sealed class OwningReader(TraceDatFile file, TraceDatReader reader) : ITraceReader
    {
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
