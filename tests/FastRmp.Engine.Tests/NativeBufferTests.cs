using FastRmp.Engine.Memory;

namespace FastRmp.Engine.Tests;

[Collection(NativeMemoryCollection.Name)]
public sealed unsafe class NativeBufferTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(4096, 64)]
    [InlineData(1 << 20, 4096)]
    public void Memory_is_zeroed_and_aligned(long length, int alignment)
    {
        using var buffer = new NativeBuffer(length, alignment);
        Assert.Equal(0, (long)buffer.Pointer % alignment);
        var bytes = buffer.AsSpan<byte>(0, (int)length);
        Assert.True(bytes.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Live_bytes_count_up_and_back_down_once()
    {
        long before = NativeBuffer.LiveBytes;
        var buffer = new NativeBuffer(12345);
        Assert.True(NativeBuffer.LiveBytes >= before + 12345);
        buffer.Dispose();
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan<byte>(0, 1));
    }

    [Fact]
    public void Spans_outside_the_buffer_are_refused()
    {
        using var buffer = new NativeBuffer(64);
        Assert.Equal(8, buffer.AsSpan<ulong>(0, 8).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan<ulong>(1, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan<ulong>(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeBuffer(16, alignment: 24));
    }
}
