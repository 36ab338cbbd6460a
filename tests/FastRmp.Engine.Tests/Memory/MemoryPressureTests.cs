using FastRmp.Engine.Memory;

namespace FastRmp.Engine.Tests.Memory;

/// <summary>
/// Issue 18, item 13: native owners tell the GC what they hold (<see cref="MemoryPressure"/>), so a leaked owner is
/// finalized as memory fills. Heap blocks report their size, mappings at most <see cref="MemoryPressure.MaxMappedBytes"/>,
/// blocks under <see cref="MemoryPressure.MinBlockBytes"/> nothing; every report is taken back when the block is freed.
/// </summary>
[Collection(NativeMemoryCollection.Name)]
public sealed unsafe class MemoryPressureTests
{
    [Fact]
    public void A_big_buffer_reports_its_size_until_disposed()
    {
        long before = MemoryPressure.ReportedBytes;
        var buffer = NativeBuffer.MapAnonymous(32L << 20);
        Assert.Equal(before + (32L << 20), MemoryPressure.ReportedBytes);
        buffer.Dispose();
        buffer.Dispose();
        Assert.Equal(before, MemoryPressure.ReportedBytes);
    }

    [Fact]
    public void A_large_mapping_reports_at_most_the_cap()
    {
        long before = MemoryPressure.ReportedBytes;
        using (var table = NativeBuffer.MapAnonymous(4L << 30))
        {
            Assert.Equal(before + MemoryPressure.MaxMappedBytes, MemoryPressure.ReportedBytes);
        }

        Assert.Equal(before, MemoryPressure.ReportedBytes);
    }

    [Fact]
    public void Small_blocks_report_nothing()
    {
        long before = MemoryPressure.ReportedBytes;
        using var small = new NativeBuffer(MemoryPressure.MinBlockBytes - 1);
        using var array = new NativeArray<long>(16);
        Assert.Equal(before, MemoryPressure.ReportedBytes);
    }

    [Fact]
    public void A_native_array_reports_what_it_holds_as_it_grows_and_shrinks()
    {
        long before = MemoryPressure.ReportedBytes;
        var array = new NativeArray<ulong>(1 << 14); // 128 KiB: not reported
        Assert.Equal(before, MemoryPressure.ReportedBytes);
        _ = array.Resize(1 << 22); // 32 MiB
        Assert.Equal(before + (32L << 20), MemoryPressure.ReportedBytes);
        _ = array.Resize(16); // below the smallest reported block
        Assert.Equal(before, MemoryPressure.ReportedBytes);
        _ = array.Resize(1 << 22);
        array.Dispose();
        Assert.Equal(before, MemoryPressure.ReportedBytes);
    }

    [Fact]
    public void A_leaked_buffer_takes_its_report_back_when_finalized()
    {
        long before = MemoryPressure.ReportedBytes;
        Leak();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(before, MemoryPressure.ReportedBytes);

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void Leak() => _ = NativeBuffer.MapAnonymous(32L << 20);
    }
}
