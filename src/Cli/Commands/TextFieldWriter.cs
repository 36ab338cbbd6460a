using System.Globalization;
using System.Text.Json;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Cli.Commands;

/// <summary>
/// Fields of a text record for JSON: typed KVM events by their tracepoint field names (as binary input gives them),
/// else <c>name=value</c> pairs when the payload is made of them, else the payload as <c>text</c>.
/// </summary>
internal static class TextFieldWriter
{
    public static void Write(Utf8JsonWriter w, in TraceRecord record, KvmEventDecoder decoder)
    {
        Span<ulong> values = stackalloc ulong[8];
        if (decoder.TryGetValues(record, out var kind, values, out uint present) && present != 0)
        {
            var names = KvmEventDecoder.FieldNames(kind);
            for (int i = 0; i < names.Count; i++)
            {
                if ((present & (1u << i)) != 0)
                {
                    // Printed negatives (errno, ret, u = -1) come back sign-extended; keep them negative.
                    long signed = (long)values[i];
                    if (signed is < 0 and >= int.MinValue)
                    {
                        w.WriteNumber(names[i], signed);
                    }
                    else
                    {
                        w.WriteNumber(names[i], values[i]);
                    }
                }
            }

            return;
        }

        var payload = record.Text.Trim();
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
