using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Perf;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>Reading perf.data records allocates nothing per record once the window's buffers have grown.</summary>
[Collection(AllocationMeasuring.Name)]
public class PerfDataAllocationTests
{
    [Fact]
    public void Reading_twenty_thousand_samples_in_rounds_allocates_no_bytes_per_record()
    {
        var b = new PerfDataBuilder(false).Comm(0, 100, 100, "qemu");
        ulong t = 0;
        for (int round = 0; round < 200; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                b.Sample(t += 10, i % 2, 100, 100, 2, 0);
            }

            b.Round();
        }

        byte[] bytes = b.Build();
        using var file = PerfDataFile.Open(TraceInput.FromMemory(bytes, "built"));
        using var reader = file.CreateReader();
        ulong sum = 0;
        int n = 0;
        // Warm up: the first rounds grow the queue's arrays to their working size.
        while (n < 1000 && reader.MoveNext(out var r))
        {
            sum += r.GetUInt64(r.Format.Require("reason"));
            n++;
        }

        var reason = file.Formats.ByName("kvm:kvm_userspace_exit")!.Require("reason");
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (reader.MoveNext(out var r))
        {
            sum += r.GetUInt64(reason) + (ulong)r.Cpu;
            n++;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(20_000, n);
        Assert.True(sum > 0);
        // Under one byte per record: what a per-record object would cost is 24 bytes or more; a few KiB can come from
        // the runtime itself (tiering, statics) on this thread when the whole suite runs.
        Assert.True(allocated < n - 1000, $"{allocated} bytes for {n - 1000} records");
    }
}
