using System.Globalization;
using System.Text.Json;

namespace FastRmp.Cli.Commands;

/// <summary>Fields of a text record for JSON: <c>name=value</c> pairs when the payload is made of them, else <c>text</c>.</summary>
internal static class TextFieldWriter
{
    public static void Write(Utf8JsonWriter w, ReadOnlySpan<char> payload)
    {
        payload = payload.Trim();
        if (!AllPairs(payload))
        {
            w.WriteString("text"u8, payload);
            return;
        }

        foreach (var range in payload.Split(' '))
        {
            var token = payload[range];
            int eq = token.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            var name = token[..eq];
            var value = token[(eq + 1)..];
            if (value.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(value[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex))
            {
                w.WriteNumber(name, hex);
            }
            else if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long dec))
            {
                w.WriteNumber(name, dec);
            }
            else if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big))
            {
                w.WriteNumber(name, big);
            }
            else
            {
                w.WriteString(name, value);
            }
        }
    }

    private static bool AllPairs(ReadOnlySpan<char> payload)
    {
        if (payload.IsEmpty)
        {
            return false;
        }

        foreach (var range in payload.Split(' '))
        {
            var token = payload[range];
            if (token.IsEmpty)
            {
                return false;
            }

            int eq = token.IndexOf('=');
            if (eq <= 0)
            {
                return false;
            }
        }

        return true;
    }
}
