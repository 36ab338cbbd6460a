using FastRmp.Engine.Allocation;

namespace FastRmp.Engine.Tests.Allocation;

/// <summary>Everything observable about an allocator, to show that a refused call changed nothing.</summary>
internal sealed record AllocatorSnapshot(ulong FreePages, long[] BuddyInfo, BuddyOrderCounters[] Counters)
{
    public static AllocatorSnapshot Take(BuddyAllocator allocator)
    {
        var info = new long[allocator.MaxOrder + 1];
        allocator.GetBuddyInfo(info);
        var counters = new BuddyOrderCounters[allocator.MaxOrder + 1];
        for (int k = 0; k <= allocator.MaxOrder; k++)
        {
            counters[k] = allocator.GetCounters(k);
        }

        return new AllocatorSnapshot(allocator.FreePages, info, counters);
    }

    public void AssertSame(BuddyAllocator allocator, bool verify = true)
    {
        var now = Take(allocator);
        Assert.Equal(FreePages, now.FreePages);
        Assert.Equal(BuddyInfo, now.BuddyInfo);
        Assert.Equal(Counters, now.Counters);
        if (verify)
        {
            allocator.Verify();
        }
    }
}
