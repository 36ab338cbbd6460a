using FastRmp.Engine.Allocation;
using FastRmp.Engine.Memory;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Allocation;

[Collection(NativeMemoryCollection.Name)]
public sealed class BuddyAllocatorMemoryTrackingTests
{
    [Fact]
    public void Metadata_is_returned_on_dispose()
    {
        long before = NativeBuffer.LiveBytes;
        var allocator = new BuddyAllocator(new kvm_pfn_t(5), 1 << 20);
        Assert.Equal(before + allocator.MetadataBytes, NativeBuffer.LiveBytes);
        allocator.Dispose();
        Assert.Equal(before, NativeBuffer.LiveBytes);
    }
}
