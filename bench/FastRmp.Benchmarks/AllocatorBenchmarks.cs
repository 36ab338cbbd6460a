using BenchmarkDotNet.Attributes;
using FastRmp.Engine.Allocation;
using FastRmp.Engine.Tests.Allocation;
using FastRmp.Interop;

namespace FastRmp.Benchmarks;

/// <summary>
/// Allocate+free pairs on a half-full 64 GiB host (see <see cref="AllocatorHalfFullHost"/>): "Pair" frees each
/// block right away (the LIFO hint path, like a per-cpu list hit), "Batch64" allocates 64 blocks then frees them
/// (the search, split and merge paths). The naive SortedSet buddy is the baseline of each category.
/// </summary>
public class AllocatorBenchmarks
{
    private const int Pairs = 1024;
    private const int Batch = 64;
    private const int NaiveBudget = 64;
    private const string NaiveReason = "the naive baseline's SortedSet nodes";
    private readonly kvm_pfn_t[] _pfns = new kvm_pfn_t[Batch];
    private readonly ulong[] _naivePfns = new ulong[Batch];
    private BuddyAllocator _allocator = null!;
    private NaiveBuddyModel _naive = null!;

    [GlobalSetup(Targets = [nameof(Buddy_order0_pair), nameof(Buddy_order9_pair), nameof(Buddy_order0_batch64), nameof(Buddy_order9_batch64)])]
    public void SetupBuddy() => _allocator = AllocatorHalfFullHost.Build();

    [GlobalSetup(Targets = [nameof(Naive_order0_pair), nameof(Naive_order9_pair), nameof(Naive_order0_batch64), nameof(Naive_order9_batch64)])]
    public void SetupNaive() => _naive = AllocatorHalfFullHost.BuildNaive();

    [GlobalCleanup]
    public void Cleanup() => _allocator?.Dispose();

    [BenchmarkCategory("Allocator.Order0.Pair"), Benchmark(Baseline = true, OperationsPerInvoke = Pairs), AllocationBudget(NaiveBudget, Reason = NaiveReason)]
    public ulong Naive_order0_pair() => NaivePairs(0);

    [BenchmarkCategory("Allocator.Order0.Pair"), Benchmark(OperationsPerInvoke = Pairs)]
    public ulong Buddy_order0_pair() => RunPairs(0);

    [BenchmarkCategory("Allocator.Order9.Pair"), Benchmark(Baseline = true, OperationsPerInvoke = Pairs), AllocationBudget(NaiveBudget, Reason = NaiveReason)]
    public ulong Naive_order9_pair() => NaivePairs(9);

    [BenchmarkCategory("Allocator.Order9.Pair"), Benchmark(OperationsPerInvoke = Pairs)]
    public ulong Buddy_order9_pair() => RunPairs(9);

    [BenchmarkCategory("Allocator.Order0.Batch64"), Benchmark(Baseline = true, OperationsPerInvoke = Batch), AllocationBudget(NaiveBudget, Reason = NaiveReason)]
    public ulong Naive_order0_batch64() => NaiveBatch(0);

    [BenchmarkCategory("Allocator.Order0.Batch64"), Benchmark(OperationsPerInvoke = Batch)]
    public ulong Buddy_order0_batch64() => Batch64(0);

    [BenchmarkCategory("Allocator.Order9.Batch64"), Benchmark(Baseline = true, OperationsPerInvoke = Batch), AllocationBudget(NaiveBudget, Reason = NaiveReason)]
    public ulong Naive_order9_batch64() => NaiveBatch(9);

    [BenchmarkCategory("Allocator.Order9.Batch64"), Benchmark(OperationsPerInvoke = Batch)]
    public ulong Buddy_order9_batch64() => Batch64(9);

    private ulong RunPairs(int order)
    {
        BuddyAllocator allocator = _allocator;
        ulong sum = 0;
        for (int i = 0; i < Pairs; i++)
        {
            allocator.TryAllocate(order, out var pfn);
            allocator.Free(pfn, order);
            sum += pfn.Value;
        }

        return sum;
    }

    private ulong Batch64(int order)
    {
        BuddyAllocator allocator = _allocator;
        kvm_pfn_t[] pfns = _pfns;
        ulong sum = 0;
        for (int i = 0; i < pfns.Length; i++)
        {
            allocator.TryAllocate(order, out pfns[i]);
            sum += pfns[i].Value;
        }

        for (int i = 0; i < pfns.Length; i++)
        {
            allocator.Free(pfns[i], order);
        }

        return sum;
    }

    private ulong NaivePairs(int order)
    {
        NaiveBuddyModel naive = _naive;
        ulong sum = 0;
        for (int i = 0; i < Pairs; i++)
        {
            naive.TryAllocate(order, out ulong pfn);
            naive.Free(pfn, order);
            sum += pfn;
        }

        return sum;
    }

    private ulong NaiveBatch(int order)
    {
        NaiveBuddyModel naive = _naive;
        ulong[] pfns = _naivePfns;
        ulong sum = 0;
        for (int i = 0; i < pfns.Length; i++)
        {
            naive.TryAllocate(order, out pfns[i]);
            sum += pfns[i];
        }

        for (int i = 0; i < pfns.Length; i++)
        {
            naive.Free(pfns[i], order);
        }

        return sum;
    }
}
