using System.Globalization;
using System.Text.RegularExpressions;
using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// Turns `trace-cmd report -t -R` output and FastRmp records into comparable keys: "ts cpu pid event f=v ...", with
/// numbers normalised (hex/decimal, masked to the field size) and strings compared verbatim.
/// </summary>
internal static partial class RawReport
{
    [GeneratedRegex(@"^\s*(?<comm>.*)-(?<pid>\d+)\s+\[(?<cpu>\d+)\]\s+(?<s>\d+)\.(?<ns>\d{9}):\s+(?<event>[^\s:]+):\s?(?<payload>.*)$")]
    private static partial Regex Line();

    public static List<string> ExpectedKeys(string reportText, TraceFormats formats)
    {
        var keys = new List<string>();
        foreach (var line in reportText.Split('\n'))
        {
            var m = Line().Match(line);
            if (!m.Success)
            {
                continue;
            }

            ulong ts = ulong.Parse(m.Groups["s"].Value, CultureInfo.InvariantCulture) * 1_000_000_000UL + ulong.Parse(m.Groups["ns"].Value, CultureInfo.InvariantCulture);
            string ev = m.Groups["event"].Value;
            var format = formats.ByEventName(ev).FirstOrDefault();
            string fields = format is null ? "?" + m.Groups["payload"].Value.Trim() : ParseFields(m.Groups["payload"].Value.TrimStart(), format);
            keys.Add($"{ts} {int.Parse(m.Groups["cpu"].Value, CultureInfo.InvariantCulture)} {m.Groups["pid"].Value} {ev} {fields}");
        }

        return keys;
    }

    public static string Key(in TraceRecord r)
    {
        var parts = new List<string>();
        foreach (var f in r.Format.EventFields)
        {
            parts.Add(f.Name + "=" + Value(r, f));
        }

        return $"{r.Timestamp} {r.Cpu} {r.Pid} {r.Format.Name} {string.Join(' ', parts)}";
    }

    private static string Value(in TraceRecord r, EventField f)
    {
        if (Opaque(f))
        {
            return "?";
        }

        if (f.IsCharString)
        {
            return r.GetString(f).TrimEnd('\n');
        }

        if (f.IsNumber)
        {
            return (r.GetUInt64(f) & Mask(f.Size)).ToString(CultureInfo.InvariantCulture);
        }

        return "?";
    }

    /// <summary>Values trace-cmd prints in a way FastRmp does not reproduce: kallsyms-resolved ip, non-char dynamic arrays.</summary>
    private static bool Opaque(EventField f) => f.Name == "ip" || (!f.IsCharString && !f.IsNumber);

    private static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private static string ParseFields(string payload, EventFormat format)
    {
        var fields = format.EventFields;
        var parts = new List<string>();
        int pos = 0;
        for (int i = 0; i < fields.Length; i++)
        {
            var f = fields[i];
            string prefix = f.Name + "=";
            if (!payload.AsSpan(pos).StartsWith(prefix, StringComparison.Ordinal))
            {
                return "!unparsed:" + payload;
            }

            int start = pos + prefix.Length;
            int end = payload.Length;
            if (i + 1 < fields.Length)
            {
                int next = payload.IndexOf(" " + fields[i + 1].Name + "=", start, StringComparison.Ordinal);
                end = next < 0 ? payload.Length : next;
            }

            string v = payload[start..end];
            parts.Add(f.Name + "=" + Normalize(v, f, HexFields(format).Contains(f.Name)));
            pos = Math.Min(end + 1, payload.Length);
        }

        return string.Join(' ', parts);
    }

    /// <summary>
    /// Fields the print format prints with %x/%llx/%p: libtraceevent's -R output uses the same conversion, so their bare
    /// digits are hex.
    /// </summary>
    private static HashSet<string> HexFields(EventFormat format)
    {
        if (s_hexCache.TryGetValue(format, out var cached))
        {
            return cached;
        }

        var result = new HashSet<string>(StringComparer.Ordinal);
        string pf = format.PrintFormat;
        int q1 = pf.IndexOf('"', StringComparison.Ordinal);
        int q2 = q1 < 0 ? -1 : pf.IndexOf('"', q1 + 1);
        if (q2 > q1)
        {
            var specs = Spec().Matches(pf[(q1 + 1)..q2]).Select(m => m.Value).Where(v => v != "%%").ToList();
            var args = SplitArgs(pf[(q2 + 1)..]);
            for (int i = 0; i < Math.Min(specs.Count, args.Count); i++)
            {
                var m = RecField().Match(args[i]);
                if (m.Success && (specs[i].EndsWith('x') || specs[i].EndsWith('X') || specs[i].EndsWith('p')))
                {
                    result.Add(m.Groups[1].Value);
                }
            }
        }

        s_hexCache[format] = result;
        return result;
    }

    private static readonly Dictionary<EventFormat, HashSet<string>> s_hexCache = [];

    [GeneratedRegex(@"%[-#0 +]*\d*(?:\.\d+)?(?:hh|h|ll|l|z)?[diouxXpsc%]")]
    private static partial Regex Spec();

    [GeneratedRegex(@"^\s*\(?\s*(?:\([^)]*\)\s*)?REC->(\w+)\s*\)?\s*$")]
    private static partial Regex RecField();

    private static List<string> SplitArgs(string s)
    {
        var args = new List<string>();
        int depth = 0, start = -1;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == ',' && depth == 0)
            {
                if (start >= 0)
                {
                    args.Add(s[start..i]);
                }

                start = i + 1;
            }
            else if (c is '(' or '{')
            {
                depth++;
            }
            else if (c is ')' or '}')
            {
                depth--;
            }
        }

        if (start >= 0)
        {
            args.Add(s[start..]);
        }

        return args;
    }

    private static string Normalize(string v, EventField f, bool printedHex)
    {
        if (Opaque(f))
        {
            return "?";
        }

        if (f.IsCharString)
        {
            return v;
        }

        ulong value;
        if (v.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(v.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong hex))
        {
            value = hex;
        }
        else if (printedHex && ulong.TryParse(v, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong bare))
        {
            value = bare;
        }
        else if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long dec))
        {
            value = (ulong)dec;
        }
        else if (ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big))
        {
            value = big;
        }
        else
        {
            return "!" + v;
        }

        return (value & Mask(f.Size)).ToString(CultureInfo.InvariantCulture);
    }
}
