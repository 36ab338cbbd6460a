namespace FastRmp.Interop.Tracing;

/// <summary>
/// Malformed or unsupported trace input. The message names where: a file offset (<c>at offset 0x1a2b</c>) for binary
/// input, a line number for text.
/// </summary>
public sealed class TraceFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TraceFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    public TraceFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates an exception without a message (prefer the other constructors).</summary>
    public TraceFormatException()
    {
    }
}
