using System.Runtime.CompilerServices;

namespace FastRmp.Interop.Tracing;

/// <summary>One parsed event line.</summary>
internal ref struct TextLine
{
    public ReadOnlySpan<char> Comm;
    public int Pid;
    public int Tgid;
    public int Cpu;
    public ulong Timestamp;
    public ReadOnlySpan<char> System;
    public ReadOnlySpan<char> Event;
    public ReadOnlySpan<char> Payload;
}

/// <summary>
/// Parses ftrace-style lines (tracefs <c>trace</c>/<c>trace_pipe</c>, <c>trace-cmd report</c>) and <c>perf script</c>
/// lines without regular expressions: the CPU column <c>[N]</c> anchors the line; comm is everything before the last
/// <c>-pid</c> (ftrace) or <c>pid[/tid]</c> (perf) that precedes it, so comms with spaces (<c>CPU 0/KVM</c>) work.
/// </summary>
/// <remarks>
/// Source: the grammars of traces.md 1.1-1.4: 4- or 5-character flags or none, record-tgid <c>(  1234)</c>,
/// <c>secs.usecs</c> / <c>secs.nsecs</c> / raw counter timestamps, <c>--ts-diff</c> <c>(+N)</c>, perf's
/// <c>sys:event:</c>. Returns false for anything else; never throws and never reads outside the line.
/// </remarks>
internal static class TextLineParser
{
    public static bool TryParse(ReadOnlySpan<char> line, bool perf, out TextLine result)
    {
        result = default;
        int search = 0;
        while (true)
        {
            int open = line[search..].IndexOf('[');
            if (open < 0)
            {
                return false;
            }

            open += search;
            search = open + 1;
            int close = open + 1;
            int cpu = 0;
            while (close < line.Length && char.IsAsciiDigit(line[close]) && close - open < 8)
            {
                cpu = (cpu * 10) + (line[close] - '0');
                close++;
            }

            if (close == open + 1 || close >= line.Length || line[close] != ']')
            {
                continue;
            }

            var before = line[..open].TrimEnd();
            if (!(perf ? TryPerfHead(before, ref result) : TryFtraceHead(before, ref result)))
            {
                continue;
            }

            result.Cpu = cpu;
            return TryTail(line[(close + 1)..], perf, ref result);
        }
    }

    private static bool TryFtraceHead(ReadOnlySpan<char> before, ref TextLine r)
    {
        // optional "(  tgid)" (record-tgid) / "(-------)" (tgid unknown)
        if (before.Length > 0 && before[^1] == ')')
        {
            int p = before.LastIndexOf('(');
            if (p < 0)
            {
                return false;
            }

            var tgid = before[(p + 1)..^1].Trim();
            r.Tgid = tgid.Length <= 10 && int.TryParse(tgid, System.Globalization.NumberStyles.None, null, out int t) ? t : 0;
            before = before[..p].TrimEnd();
        }

        int end = before.Length;
        int start = end;
        while (start > 0 && char.IsAsciiDigit(before[start - 1]))
        {
            start--;
        }

        if (start == end || start == 0 || before[start - 1] != '-' || end - start > 10)
        {
            return false;
        }

        if (!int.TryParse(before[start..end], out int pid))
        {
            return false;
        }

        r.Pid = pid;
        r.Comm = before[..(start - 1)].TrimStart();
        return true;
    }

    private static bool TryPerfHead(ReadOnlySpan<char> before, ref TextLine r)
    {
        int sp = before.LastIndexOf(' ');
        if (sp < 0)
        {
            return false;
        }

        var ids = before[(sp + 1)..];
        int slash = ids.IndexOf('/');
        var tid = slash >= 0 ? ids[(slash + 1)..] : ids;
        if (tid.IsEmpty || tid.Length > 10 || !int.TryParse(tid, out int pid) || pid < 0)
        {
            return false;
        }

        // "pid/tid" (perf script -F pid,tid): the process id is the thread group's
        if (slash > 0 && slash <= 10 && int.TryParse(ids[..slash], System.Globalization.NumberStyles.None, null, out int process))
        {
            r.Tgid = process;
        }

        r.Pid = pid;
        r.Comm = before[..sp].Trim();
        return r.Comm.Length > 0;
    }

    private static bool TryTail(ReadOnlySpan<char> rest, bool perf, ref TextLine r)
    {
        rest = rest.TrimStart();
        int colon = rest.IndexOf(':');
        if (colon < 0)
        {
            return false;
        }

        var first = rest[..colon];
        int sp = first.IndexOf(' ');
        if (sp >= 0)
        {
            // flags column: one token of 4 or 5 characters before the timestamp
            var flags = first[..sp];
            if (flags.Length is < 4 or > 5)
            {
                return false;
            }

            first = first[sp..].TrimStart();
        }

        if (!TryTimestamp(first, out ulong ts))
        {
            return false;
        }

        r.Timestamp = ts;
        rest = rest[(colon + 1)..].TrimStart();
        if (rest.Length > 0 && rest[0] == '(')
        {
            int cp = rest.IndexOf(')');
            if (cp < 0)
            {
                return false;
            }

            rest = rest[(cp + 1)..].TrimStart();
        }

        int ec = rest.IndexOf(':');
        if (ec <= 0)
        {
            return false;
        }

        var ev = rest[..ec];
        if (ev.ContainsAny(' ', '\t'))
        {
            return false;
        }

        rest = rest[(ec + 1)..];
        if (perf)
        {
            int ec2 = rest.IndexOf(':');
            if (ec2 <= 0 || rest[..ec2].ContainsAny(' ', '\t'))
            {
                return false;
            }

            r.System = ev;
            ev = rest[..ec2];
            rest = rest[(ec2 + 1)..];
        }

        r.Event = ev;
        r.Payload = rest.Trim();
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryTimestamp(ReadOnlySpan<char> s, out ulong ns)
    {
        ns = 0;
        int dot = s.IndexOf('.');
        var secs = dot >= 0 ? s[..dot] : s;
        if (secs.IsEmpty || secs.Length > 19)
        {
            return false;
        }

        ulong whole = 0;
        foreach (char c in secs)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            whole = (whole * 10) + (ulong)(c - '0');
        }

        if (dot < 0)
        {
            ns = whole; // raw counter clocks (x86-tsc, counter): not nanoseconds
            return true;
        }

        var frac = s[(dot + 1)..];
        if (frac.IsEmpty || frac.Length > 9)
        {
            return false;
        }

        ulong f = 0;
        foreach (char c in frac)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            f = (f * 10) + (ulong)(c - '0');
        }

        for (int i = frac.Length; i < 9; i++)
        {
            f *= 10;
        }

        ns = (whole * 1_000_000_000UL) + f;
        return true;
    }
}
