using System.Globalization;

namespace FastRmp.Interop.Tracing.Kvm;

/// <summary>Finds <c>key value</c>, <c>key=value</c> and <c>key#value</c> pairs in printed payloads without allocating.</summary>
internal static class TextValues
{
    /// <summary>Finds the token after <paramref name="key"/> (a whole word followed by '=', '#', ':' or a space).</summary>
    public static bool TryFind(ReadOnlySpan<char> text, string key, out ReadOnlySpan<char> token, out bool assigned)
    {
        int from = 0;
        while (from < text.Length)
        {
            int i = text[from..].IndexOf(key, StringComparison.Ordinal);
            if (i < 0)
            {
                break;
            }

            i += from;
            int after = i + key.Length;
            bool startOk = i == 0 || text[i - 1] is ' ' or '(' or ',' or '\t';
            if (startOk && after < text.Length && text[after] is '=' or '#' or ' ' or ':')
            {
                assigned = text[after] is '=' or '#';
                int v = after + 1;
                while (v < text.Length && text[v] == ' ')
                {
                    v++;
                }

                int end = v;
                while (end < text.Length && text[end] is not (' ' or ',' or ')' or ']' or '\t'))
                {
                    end++;
                }

                token = text[v..end];
                return token.Length > 0;
            }

            from = after;
        }

        token = default;
        assigned = false;
        return false;
    }

    /// <summary>Parses a printed number: 0x-prefixed hex, signed decimal, or <paramref name="radix"/>.</summary>
    public static bool TryNumber(ReadOnlySpan<char> token, int radix, out ulong value)
    {
        token = token.Trim().TrimEnd(',').TrimEnd(':');
        if (token.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return ulong.TryParse(token[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }

        if (token.StartsWith("-"))
        {
            bool ok = long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long s);
            value = (ulong)s;
            return ok;
        }

        return radix == 16
            ? ulong.TryParse(token, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A number after <paramref name="key"/>; <c>key=value</c> forms are decimal unless 0x-prefixed.</summary>
    public static bool TryGet(ReadOnlySpan<char> text, string key, int radix, out ulong value)
    {
        value = 0;
        return TryFind(text, key, out var token, out bool assigned) && TryNumber(token, assigned ? 10 : radix, out value);
    }

    /// <summary>The two numbers of <c>A -- B</c> (hva and gfn ranges).</summary>
    public static bool TryRange(ReadOnlySpan<char> text, out ulong start, out ulong end)
    {
        start = end = 0;
        int dash = text.IndexOf(" -- ", StringComparison.Ordinal);
        if (dash < 0)
        {
            return false;
        }

        var left = text[..dash].TrimEnd();
        int sp = left.LastIndexOf(' ');
        var a = sp >= 0 ? left[(sp + 1)..] : left;
        var right = text[(dash + 4)..].TrimStart();
        int e = right.IndexOfAny(' ', '[');
        var b = e >= 0 ? right[..e] : right;
        return TryNumber(a, 16, out start) && TryNumber(b, 16, out end);
    }

    /// <summary>The payload of a trace_marker write: after <c>tracing_mark_write: </c> or <c>buf=</c> when present.</summary>
    public static ReadOnlySpan<char> MarkerText(ReadOnlySpan<char> payload)
    {
        int b = payload.IndexOf("buf=", StringComparison.Ordinal);
        if (b >= 0 && (b == 0 || payload[b - 1] == ' '))
        {
            return payload[(b + 4)..];
        }

        const string Mark = "tracing_mark_write:";
        int m = payload.IndexOf(Mark, StringComparison.Ordinal);
        return m >= 0 ? payload[(m + Mark.Length)..].TrimStart() : payload;
    }

    /// <summary>The first word of <paramref name="text"/>.</summary>
    public static ReadOnlySpan<char> FirstWord(ReadOnlySpan<char> text)
    {
        text = text.TrimStart();
        int sp = text.IndexOfAny(' ', '\n', '\t');
        return sp >= 0 ? text[..sp] : text;
    }
}
