using FastRmp.Engine.Memory;

namespace FastRmp.Engine.Tests;

[Collection(NativeMemoryCollection.Name)]
public sealed unsafe class NativeBufferMappedTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(3 << 20, true)]
    public void A_mapping_is_zeroed_page_aligned_writable_and_counted_once(long length, bool hugePages)
    {
        long before = NativeBuffer.LiveBytes;
        var buffer = NativeBuffer.MapAnonymous(length, hugePages);
        Assert.Equal(before + length, NativeBuffer.LiveBytes);
        Assert.Equal(OperatingSystem.IsLinux(), buffer.IsMapped);
        Assert.Equal(0, (long)buffer.Pointer % 4096);
        var bytes = buffer.AsSpan<byte>(0, (int)length);
        Assert.True(bytes.IndexOfAnyExcept((byte)0) < 0);
        bytes.Fill(0xa5);
        Assert.Equal(0xa5, bytes[^1]);

        buffer.Dispose();
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        Assert.Equal(before, NativeBuffer.LiveBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeBuffer.MapAnonymous(-1));
    }
}
