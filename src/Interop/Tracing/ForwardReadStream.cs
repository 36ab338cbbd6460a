namespace FastRmp.Interop.Tracing;

/// <summary>
/// A read-only stream that can only go forward (what wraps a pipe or a decompressor): no seeking, no length, no
/// writing; <see cref="Stream.Position"/> is the number of bytes read so far. Subclasses supply <see cref="ReadCore"/>.
/// </summary>
internal abstract class ForwardReadStream : Stream
{
    private long _read;

    public sealed override bool CanRead => true;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => false;

    public sealed override long Length => throw new NotSupportedException();

    /// <summary>Bytes read so far (setting it is not supported).</summary>
    public sealed override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public sealed override int Read(Span<byte> buffer)
    {
        int n = ReadCore(buffer);
        _read += n;
        return n;
    }

    public sealed override void Flush()
    {
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Reads into <paramref name="buffer"/>; returns the bytes read, 0 at the end (<see cref="Position"/> does not include them yet).</summary>
    protected abstract int ReadCore(Span<byte> buffer);
}
