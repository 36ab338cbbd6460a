namespace FastRmp.Interop.Tracing;

/// <summary>
/// A read-only, forward-only stream that gives back bytes already read from <paramref name="rest"/> (to detect the
/// format) and then the rest of it; what a pipe needs, since its head cannot be read again.
/// </summary>
internal sealed class PrefixedStream(byte[] head, int headLength, Stream rest, bool ownsRest = true) : ForwardReadStream
{
    private int _headPos;

    protected override int ReadCore(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_headPos < headLength)
        {
            int n = Math.Min(buffer.Length, headLength - _headPos);
            head.AsSpan(_headPos, n).CopyTo(buffer);
            _headPos += n;
            return n;
        }

        return rest.Read(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsRest)
        {
            rest.Dispose();
        }

        base.Dispose(disposing);
    }
}
