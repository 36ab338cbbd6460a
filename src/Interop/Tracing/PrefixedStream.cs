namespace FastRmp.Interop.Tracing;

/// <summary>
/// A read-only, forward-only stream that gives back bytes already read from <paramref name="rest"/> (to detect the
/// format) and then the rest of it; what a pipe needs, since its head cannot be read again.
/// </summary>
internal sealed class PrefixedStream(byte[] head, int headLength, Stream rest, bool ownsRest = true) : Stream
{
    private int _headPos;
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        int n;
        if (_headPos < headLength)
        {
            n = Math.Min(buffer.Length, headLength - _headPos);
            head.AsSpan(_headPos, n).CopyTo(buffer);
            _headPos += n;
        }
        else
        {
            n = rest.Read(buffer);
        }

        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsRest)
        {
            rest.Dispose();
        }

        base.Dispose(disposing);
    }
}
