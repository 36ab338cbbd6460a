using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Tests.Common;

namespace FastRmp.Benchmarks;

/// <summary>
/// KVM's RMP lookup (assigned + level) at random pfns: the C reference over the raw table (baseline), the C# raw
/// store on the same table, the compact store, the segmented store (6.14+'s RMP, C reference walking its RST as
/// the baseline of its own category), and the batched API of each. Hosts of 64 GiB and 1 TiB, populated as
/// 40% 2M entries, 40% regions with every other page assigned at 4K, 20% shared, every page of the raw table touched.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public unsafe class RmpLookupBenchmarks
{
    private const int Lookups = 1 << 16;

    private RmpTable _raw = null!;
    private RmpTable _compact = null!;
    private RmpTable _segmented = null!;
    private SegmentedRmpStore _segmentedStore = null!;
    private RawRmpStore _rawStore = null!;
    private CompactRmpStore _compactStore = null!;
    private ulong[] _pfns = null!;
    private RmpLookup[] _results = null!;
    private byte[] _bytes = null!;

    /// <summary>Host sizes; a dry run takes the smallest.</summary>
    public static IEnumerable<int> Hosts => BenchConfig.Dry ? [64] : [64, 1024];

    [ParamsSource(nameof(Hosts))]
    public int HostGiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        ulong pages = (ulong)HostGiB << 18;
        _raw = RmpTable.CreateRaw(pages);
        _compact = RmpTable.CreateCompact(pages);
        Populate(_raw);
        Populate(_compact);
        _segmented = RmpTable.CreateSegmented(pages);
        Populate(_segmented);
        _segmentedStore = (SegmentedRmpStore)_segmented.Store;
        _rawStore = (RawRmpStore)_raw.Store;
        _compactStore = (CompactRmpStore)_compact.Store;
        var random = new Random(42);
        _pfns = new ulong[Lookups];
        for (int i = 0; i < Lookups; i++)
        {
            _pfns[i] = (ulong)random.NextInt64((long)pages);
        }

        _results = new RmpLookup[Lookups];
        _bytes = new byte[Lookups];
    }

    internal static void Populate(RmpTable rmp)
    {
        ulong regions = rmp.Pages / 512;
        for (ulong r = 0; r < regions; r++)
        {
            ulong head = r * 512;
            switch (r % 5)
            {
                case 0 or 1:
                    rmp.RmpUpdate(new kvm_pfn_t(head), new rmp_state { assigned = 1, pagesize = 1, asid = 1, gpa = head << 12 });
                    break;
                case 2 or 3:
                    for (ulong p = head; p < head + 512; p += 2)
                    {
                        rmp.RmpUpdate(new kvm_pfn_t(p), new rmp_state { assigned = 1, asid = 1, gpa = p << 12 });
                    }

                    break;
                default:
                    rmp.RmpUpdate(new kvm_pfn_t(head), new rmp_state { pagesize = 1 }); // touches the raw entries
                    break;
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _compact.Dispose();
        _segmented.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups, Description = "C reference, raw table")]
    [BenchmarkCategory("Lookup")]
    public byte C_raw() => LookupC();

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# raw store")]
    [BenchmarkCategory("Lookup")]
    public byte Raw()
    {
        var store = _rawStore;
        ref ulong pfn = ref MemoryMarshal.GetArrayDataReference(_pfns);
        ref byte result = ref MemoryMarshal.GetArrayDataReference(_bytes);
        for (nint i = 0; i < Lookups; i++)
        {
            Unsafe.Add(ref result, i) = store.Lookup(Unsafe.Add(ref pfn, i)).Raw;
        }

        return _bytes[^1];
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# compact store")]
    [BenchmarkCategory("Lookup")]
    public byte Compact()
    {
        var store = _compactStore;
        ref ulong pfn = ref MemoryMarshal.GetArrayDataReference(_pfns);
        ref byte result = ref MemoryMarshal.GetArrayDataReference(_bytes);
        for (nint i = 0; i < Lookups; i++)
        {
            Unsafe.Add(ref result, i) = store.Lookup(Unsafe.Add(ref pfn, i)).Raw;
        }

        return _bytes[^1];
    }

    /// <summary>
    /// One lookup at a time, each needed before the next (the next pfn depends on the last result), as in the fault
    /// path: the latency the batched API hides. The independent loops above let the CPU overlap misses by itself.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# raw store, one at a time")]
    [BenchmarkCategory("Lookup")]
    public ulong RawDependent()
    {
        var store = _rawStore;
        var pfns = _pfns;
        ulong chain = 0;
        for (int i = 0; i < pfns.Length; i++)
        {
            chain += store.Lookup(pfns[i] ^ (chain & 1)).Raw;
        }

        return chain;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# compact store, one at a time")]
    [BenchmarkCategory("Lookup")]
    public ulong CompactDependent()
    {
        var store = _compactStore;
        var pfns = _pfns;
        ulong chain = 0;
        for (int i = 0; i < pfns.Length; i++)
        {
            chain += store.Lookup(pfns[i] ^ (chain & 1)).Raw;
        }

        return chain;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# raw store, batched")]
    [BenchmarkCategory("Lookup")]
    public byte RawBatch()
    {
        _rawStore.Lookup(_pfns, _results);
        return _results[^1].Raw;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# compact store, batched")]
    [BenchmarkCategory("Lookup")]
    public byte CompactBatch()
    {
        _compactStore.Lookup(_pfns, _results);
        return _results[^1].Raw;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups, Description = "C reference, segmented table")]
    [BenchmarkCategory("Lookup.Segmented")]
    public byte C_segmented()
    {
        NativeRmpReference.SegmentedLookupBatch(_segmentedStore.TableBase, _segmentedStore.SegmentShift, _pfns, _bytes);
        return _bytes[^1];
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# segmented store")]
    [BenchmarkCategory("Lookup.Segmented")]
    public byte Segmented()
    {
        var store = _segmentedStore;
        ref ulong pfn = ref MemoryMarshal.GetArrayDataReference(_pfns);
        ref byte result = ref MemoryMarshal.GetArrayDataReference(_bytes);
        for (nint i = 0; i < Lookups; i++)
        {
            Unsafe.Add(ref result, i) = store.Lookup(Unsafe.Add(ref pfn, i)).Raw;
        }

        return _bytes[^1];
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "C# segmented store, batched")]
    [BenchmarkCategory("Lookup.Segmented")]
    public byte SegmentedBatch()
    {
        _segmentedStore.Lookup(_pfns, _results);
        return _results[^1].Raw;
    }

    private byte LookupC()
    {
        NativeRmpReference.LookupBatch(_rawStore.Entries, _pfns, _bytes);
        return _bytes[^1];
    }
}
