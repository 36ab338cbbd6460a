using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Benchmarks;

/// <summary>
/// KVM's RMP lookup through <see cref="RmpTable.Lookup"/>, as the engine makes it (range check, lookup counter, the
/// store's lookup), against the compact store's own lookup called directly (the baseline: what a table specialised
/// on its store can at best reach). <see cref="RmpLookupBenchmarks"/> measures the stores alone; this suite measures
/// what the table's dispatch to its store costs. A 64 GiB host populated as there.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class RmpTableLookupBenchmarks
{
    private const int Lookups = 1 << 16;

    private RmpTable _compact = null!;
    private RmpTable _raw = null!;
    private CompactRmpStore _compactStore = null!;
    private ulong[] _pfns = null!;

    [GlobalSetup]
    public void Setup()
    {
        const ulong pages = 64UL << 18;
        _compact = RmpTable.CreateCompact(pages);
        _raw = RmpTable.CreateRaw(pages);
        RmpLookupBenchmarks.Populate(_compact);
        RmpLookupBenchmarks.Populate(_raw);
        _compactStore = (CompactRmpStore)_compact.Store;
        var random = new Random(42);
        _pfns = new ulong[Lookups];
        for (int i = 0; i < Lookups; i++)
        {
            _pfns[i] = (ulong)random.NextInt64((long)pages);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _compact.Dispose();
        _raw.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups, Description = "compact store, called directly")]
    [BenchmarkCategory("Lookup.Table")]
    public ulong CompactStore()
    {
        var store = _compactStore;
        ulong sum = 0;
        foreach (ulong pfn in _pfns)
        {
            sum += store.Lookup(pfn).Raw;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "RmpTable.Lookup, compact store")]
    [BenchmarkCategory("Lookup.Table")]
    public ulong CompactTable() => Independent(_compact);

    [Benchmark(OperationsPerInvoke = Lookups, Description = "RmpTable.Lookup, raw store")]
    [BenchmarkCategory("Lookup.Table")]
    public ulong RawTable() => Independent(_raw);

    /// <summary>Each lookup's pfn depends on the last result, as in the fault path.</summary>
    [Benchmark(OperationsPerInvoke = Lookups, Description = "RmpTable.Lookup, compact store, one at a time")]
    [BenchmarkCategory("Lookup.Table")]
    public ulong CompactTableDependent()
    {
        var table = _compact;
        ulong chain = 0;
        foreach (ulong pfn in _pfns)
        {
            chain += table.Lookup(new kvm_pfn_t(pfn ^ (chain & 1))).Raw;
        }

        return chain;
    }

    private ulong Independent(RmpTable table)
    {
        ulong sum = 0;
        foreach (ulong pfn in _pfns)
        {
            sum += table.Lookup(new kvm_pfn_t(pfn)).Raw;
        }

        return sum;
    }
}
