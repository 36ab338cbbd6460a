using System.Globalization;

namespace FastRmp.Export.Parquet;

/// <summary>
/// The <c>name=value</c> pairs of a text record's payload, as <c>fastrmp events --format jsonl</c> reads them: only a
/// payload made of nothing but pairs counts (<c>sched_switch</c>'s <c>==&gt;</c>, or a comm with a space, would
/// shift the values), a value is a number when it is <c>0x</c> hex or decimal, else text.
/// </summary>
internal static class TextPairs
{
    /// <summary>Calls <paramref name="pair"/> for each pair when the whole payload is pairs; false (and no call) otherwise.</summary>
    public static bool TryRead<TState>(ReadOnlySpan<char> payload, ref TState state, PairAction<TState> pair)
        where TState : allows ref struct
    {
        payload = payload.Trim();
        if (payload.IsEmpty)
        {
            return false;
        }

        foreach (var range in payload.Split(' '))
        {
            var token = payload[range];
            if (token.IsEmpty || token.IndexOf('=') <= 0)
            {
                return false;
            }
        }

        foreach (var range in payload.Split(' '))
        {
            var token = payload[range];
            int eq = token.IndexOf('=');
            pair(ref state, token[..eq], token[(eq + 1)..]);
        }

        return true;
    }

    /// <summary>A value as a number (<c>0x</c> hex, or signed or unsigned decimal; a value above 2^63 keeps its bits), or null.</summary>
    public static long? Number(ReadOnlySpan<char> value)
    {
        if (value.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(value[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex))
        {
            return (long)hex;
        }

        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long dec))
        {
            return dec;
        }

        return ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big) ? (long)big : null;
    }

    public delegate void PairAction<TState>(ref TState state, ReadOnlySpan<char> name, ReadOnlySpan<char> value)
        where TState : allows ref struct;
}
