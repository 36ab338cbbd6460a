using System.Text;

namespace FastRmp.Interop.Tracing;

/// <summary>
/// Malformed or unsupported trace input. The message names where: a file offset (<c>at offset 0x1a2b</c>) for binary
/// input, a line number for text.
/// </summary>
/// <remarks>
/// The message is always one line of printable text: messages quote strings from the input (a compression name, an
/// event name), and the input may put line breaks or control bytes in them (found by fuzzing), so those are written
/// as <c>\xNN</c> escapes and the message is cut at <see cref="MaxMessageLength"/> characters.
/// </remarks>
public sealed class TraceFormatException : Exception
{
    /// <summary>The longest message kept; a longer one is cut and ends with an ellipsis.</summary>
    public const int MaxMessageLength = 1000;

    /// <summary>Creates the exception.</summary>
    public TraceFormatException(string message)
        : base(OneLine(message))
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    public TraceFormatException(string message, Exception inner)
        : base(OneLine(message), inner)
    {
    }

    /// <summary>Creates an exception without a message (prefer the other constructors).</summary>
    public TraceFormatException()
    {
    }

    private static string OneLine(string message)
    {
        if (message is null)
        {
            return "";
        }

        bool clean = message.Length <= MaxMessageLength;
        foreach (char ch in message)
        {
            clean &= !char.IsControl(ch);
        }

        if (clean)
        {
            return message;
        }

        var sb = new StringBuilder(Math.Min(message.Length, MaxMessageLength) + 16);
        foreach (char ch in message)
        {
            if (sb.Length >= MaxMessageLength)
            {
                sb.Append('…');
                break;
            }

            if (char.IsControl(ch))
            {
                sb.Append(@"\x").Append(((int)ch).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(ch);
            }
        }

        return sb.ToString();
    }
}
