using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace FastRmp.Interop.Tracing;

/// <content>Metadata blocks shared by v6 (sequential) and v7 (sections): header info, formats, cmdlines, options.</content>
public sealed partial class TraceDatFile
{
    private const int MaxMetadataBytes = 1 << 30;

    private void ParseHeaderInfo(ref ByteCursor c)
    {
        var tag = c.Take(12, "header_page tag");
        if (!tag.SequenceEqual("header_page\0"u8))
        {
            throw new TraceFormatException($"{Name}: expected 'header_page' at offset 0x{c.FileOffset - 12:x}");
        }

        string page = c.Text(c.Length(c.U64("header_page size"), "header_page"), "header_page");
        var tag2 = c.Take(13, "header_event tag");
        if (!tag2.SequenceEqual("header_event\0"u8))
        {
            throw new TraceFormatException($"{Name}: expected 'header_event' at offset 0x{c.FileOffset - 13:x}");
        }

        _ = c.Take(c.Length(c.U64("header_event size"), "header_event"), "header_event");
        EventFormat format;
        try
        {
            format = FormatFileParser.Parse("header", "name: header_page\nID: 0\nformat:\n" + page);
        }
        catch (TraceFormatException ex)
        {
            // The parser names the format and line, not the file: every refusal names the input (found by fuzzing).
            throw new TraceFormatException($"{Name}: {ex.Message}", ex);
        }

        var commit = format.Find("commit") ?? throw new TraceFormatException($"{Name}: header_page has no 'commit' field");
        var data = format.Find("data") ?? throw new TraceFormatException($"{Name}: header_page has no 'data' field");
        if (commit.Size is not (4 or 8) || commit.Offset < 8 || data.Offset < commit.Offset + commit.Size || data.Offset > 64)
        {
            throw new TraceFormatException($"{Name}: header_page layout not understood (commit {commit.Offset}:{commit.Size}, data {data.Offset})");
        }

        PageHeader = new PageHeaderLayout(commit.Offset, commit.Size, data.Offset);
    }

    private void ParseFtraceFormats(ref ByteCursor c)
    {
        uint count = c.U32("ftrace format count");
        for (uint i = 0; i < count; i++)
        {
            long at = c.FileOffset;
            string text = c.Text(c.Length(c.U64("format size"), "ftrace format"), "ftrace format");
            AddFormat("ftrace", text, at);
        }
    }

    private void ParseEventSystems(ref ByteCursor c)
    {
        uint systems = c.U32("system count");
        for (uint s = 0; s < systems; s++)
        {
            string system = c.CString("system name");
            uint count = c.U32("event count");
            for (uint i = 0; i < count; i++)
            {
                long at = c.FileOffset;
                string text = c.Text(c.Length(c.U64("format size"), "event format"), "event format");
                AddFormat(system, text, at);
            }
        }
    }

    private void AddFormat(string system, string text, long at)
    {
        try
        {
            Formats.Add(FormatFileParser.Parse(system, text, PageHeader.CommitSize == 0 ? 8 : PageHeader.CommitSize));
        }
        catch (TraceFormatException ex)
        {
            // One format FastRmp cannot read costs only its event's records (counted as records of an unknown event
            // by the reader), not the whole trace; the reason is kept for 'info'.
            _formatErrors.Add($"event format at offset 0x{at:x}: {ex.Message}");
        }
    }

    private void ParseCmdlines(string text)
    {
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var l = line.Trim();
            int sp = l.IndexOf(' ');
            if (sp > 0 && int.TryParse(l[..sp], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                _cmdlines[pid] = l[(sp + 1)..].ToString();
            }
        }
    }

    /// <summary>Applies options that change how records read (clock, offsets, CPU count); all are kept in <see cref="Options"/>.</summary>
    private void ApplyOption(int id, ReadOnlySpan<byte> data, long at)
    {
        _options.Add(new TraceOption(id, at, data.ToArray()));
        switch (id)
        {
            case 4: // TRACECLOCK: text of trace_clock, current clock in brackets
                string clocks = Encoding.ASCII.GetString(data);
                int open = clocks.IndexOf('[', StringComparison.Ordinal);
                int close = clocks.IndexOf(']', StringComparison.Ordinal);
                if (open >= 0 && close > open)
                {
                    Clock = clocks[(open + 1)..close];
                }

                break;
            case 7: // OFFSET: ns added to timestamps, written as text by trace-cmd (binary s64 accepted too)
                string t = Encoding.ASCII.GetString(data).TrimEnd('\0', ' ', '\n');
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long off))
                {
                    TimestampOffset += off;
                }
                else if (data.Length == 8)
                {
                    TimestampOffset += IsBigEndian ? BinaryPrimitives.ReadInt64BigEndian(data) : BinaryPrimitives.ReadInt64LittleEndian(data);
                }

                break;
            case 8: // CPUCOUNT
                if (data.Length >= 4)
                {
                    CpuCount = (int)Math.Min(IsBigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data) : BinaryPrimitives.ReadUInt32LittleEndian(data), 1u << 16);
                }

                break;
            case 13: // GUEST: name, trace id, vCPU -> host pid map (a malformed one stays in Options only)
                if (TraceGuest.Parse(data, IsBigEndian) is { } guest && _guests.Count < 1024)
                {
                    _guests.Add(guest);
                }

                break;
            case 14: // TSC2NSEC: u32 mult, u32 shift, u64 offset
                if (data.Length >= 16)
                {
                    var c = new ByteCursor(data, at, IsBigEndian, Name);
                    uint mult = c.U32("mult");
                    uint shift = c.U32("shift");
                    long offset = (long)c.U64("offset");
                    if (mult != 0 && shift < 64)
                    {
                        Tsc2Nsec = (mult, shift, offset);
                    }
                }

                break;
        }
    }
}
