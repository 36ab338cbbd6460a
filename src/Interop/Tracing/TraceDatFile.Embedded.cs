using System.Text;

namespace FastRmp.Interop.Tracing;

/// <content>The tracing-data block that perf embeds in perf.data (feature HEADER_TRACING_DATA, or the pipe-mode record of the same name).</content>
public sealed partial class TraceDatFile
{
    /// <summary>
    /// Reads the tracing-data block perf stores in a perf.data file: the trace.dat v6 metadata start (magic, version
    /// <c>0.6</c>, endianness, long size, page size), header_page and header_event, the ftrace and event formats,
    /// kallsyms, printk formats and saved cmdlines. There are no options and no ring-buffer data.
    /// </summary>
    /// <param name="bytes">The block, exactly as stored.</param>
    /// <param name="fileOffset">File offset of the block's first byte (for messages).</param>
    /// <param name="name">The file's name (for messages).</param>
    /// <remarks>
    /// Source: tools/perf/util/trace-event-info.c and trace-event-read.c of Linux 6.18 (read for the layout; the
    /// version string is <c>0.6</c>, older perf wrote <c>0.5</c> without saved cmdlines). The block's bytes are
    /// already bounded by the caller (the feature section or the record's size checked against the input).
    /// </remarks>
    /// <exception cref="TraceFormatException">The block is not tracing data; the message names the offset.</exception>
    internal static TraceDatFile ReadEmbedded(ReadOnlySpan<byte> bytes, long fileOffset, string name)
    {
        var file = new TraceDatFile(TraceInput.FromMemory(ReadOnlyMemory<byte>.Empty, name), ownsInput: true);
        file.ParseEmbedded(bytes, fileOffset);
        return file;
    }

    private void ParseEmbedded(ReadOnlySpan<byte> bytes, long fileOffset)
    {
        if (bytes.Length < 10 || !bytes[..10].SequenceEqual(s_magic))
        {
            throw new TraceFormatException($"{Name}: tracing data at offset 0x{fileOffset:x} does not start with 17 08 44 'tracing'");
        }

        int nul = bytes[10..].IndexOf((byte)0);
        if (nul is < 0 or > 8)
        {
            throw new TraceFormatException($"{Name}: bad tracing-data version string at offset 0x{fileOffset + 10:x}");
        }

        string version = Encoding.ASCII.GetString(bytes.Slice(10, nul));
        int pos = 10 + nul + 1;
        if (bytes.Length < pos + 6)
        {
            throw new TraceFormatException($"{Name}: truncated: tracing-data header at offset 0x{fileOffset + pos:x}");
        }

        byte endian = bytes[pos];
        if (endian > 1)
        {
            throw new TraceFormatException($"{Name}: bad endian byte {endian} in tracing data at offset 0x{fileOffset + pos:x}");
        }

        IsBigEndian = endian == 1;
        UserLongSize = bytes[pos + 1];
        Version = 6;
        var c = new ByteCursor(bytes[(pos + 2)..], fileOffset + pos + 2, IsBigEndian, Name);
        PageSize = (int)Math.Min(c.U32("page size"), int.MaxValue);
        ParseHeaderInfo(ref c);
        ParseFtraceFormats(ref c);
        ParseEventSystems(ref c);
        if (c.Remaining == 0)
        {
            return;
        }

        _ = c.Take(c.Length(c.U32("kallsyms size"), "kallsyms"), "kallsyms");
        _ = c.Take(c.Length(c.U32("printk size"), "printk formats"), "printk formats");
        if (version != "0.5" && c.Remaining >= 8)
        {
            ParseCmdlines(c.Text(c.Length(c.U64("cmdlines size"), "saved cmdlines"), "saved cmdlines"));
        }
    }
}
