using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Allocation;
using FastRmp.Engine.Tests.Allocation;
using FastRmp.Interop;

namespace FastRmp.Benchmarks;

/// <summary>
/// Building (and disposing) an all-free allocator. The naive SortedSet buddy over the same 4 TiB (2^20 free
/// order-10 blocks) is the baseline. The bitmaps are an anonymous mapping, so only written pages are committed.
/// </summary>
[AllocationBudget(16 << 10, Reason = "the allocator object and its per-order arrays (the bitmaps are unmanaged)")]
public class AllocatorBuildBenchmarks
{
    private const ulong PagesPer4TiB = 1UL << 30;

    [BenchmarkCategory("Allocator.Build4TiB"), Benchmark(Baseline = true), AllocationBudget(64 << 20, Reason = "the naive baseline's 2^20 SortedSet nodes")]
    public long Naive_build_4TiB() => new NaiveBuddyModel(0x100000, PagesPer4TiB, BuddyAllocator.DefaultMaxOrder).FreeBlocks(10);

    [BenchmarkCategory("Allocator.Build4TiB"), Benchmark]
    public long Buddy_build_4TiB()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0x100000), PagesPer4TiB);
        return allocator.MetadataBytes;
    }

    [BenchmarkCategory("Allocator.Build4TiB"), Benchmark]
    public long Buddy_build_4TiB_max_order_18()
    {
        using var allocator = new BuddyAllocator(new kvm_pfn_t(0x100000), PagesPer4TiB, BuddyAllocator.LimitMaxOrder);
        return allocator.MetadataBytes;
    }
}
