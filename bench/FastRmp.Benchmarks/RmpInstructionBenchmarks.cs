using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Benchmarks;

/// <summary>
/// RMPUPDATE at random pfns of an all-shared host: each pfn made private (4K, ASID 1) then shared again, and the same
/// for 2M entries at random 2 MiB-aligned pfns. The C reference (native-stubs, gcc -O2) runs the same sequence on its
/// own raw table in one call per batch (the baseline of each category); the C# <see cref="RmpTable"/> runs it over
/// the raw, compact and segmented stores. One operation = one RMPUPDATE.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class RmpUpdateBenchmarks
{
    private const int Pairs = 1 << 14;

    private RmpTableSet _t = null!;
    private ulong[] _pfns4K = null!;
    private rmp_state[] _states4K = null!;
    private ulong[] _pfns2M = null!;
    private rmp_state[] _states2M = null!;

    /// <summary>Host sizes; a dry run takes the smallest.</summary>
    public static IEnumerable<int> Hosts => BenchConfig.Dry ? [64] : [64, 1024];

    [ParamsSource(nameof(Hosts))]
    public int HostGiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        ulong pages = (ulong)HostGiB << 18;
        _t = new RmpTableSet(pages);
        (_pfns4K, _states4K) = Sequence(pages, huge: false, seed: 1);
        (_pfns2M, _states2M) = Sequence(pages, huge: true, seed: 2);
    }

    /// <summary>Private then shared for each of <see cref="Pairs"/> distinct random pfns (2 MiB-aligned for 2M).</summary>
    private static (ulong[] Pfns, rmp_state[] States) Sequence(ulong pages, bool huge, int seed)
    {
        var chosen = RmpTableSet.DistinctRandom(Pairs, huge ? pages >> 9 : pages, huge ? 9 : 0, seed);
        var pfns = new ulong[Pairs * 2];
        var states = new rmp_state[Pairs * 2];
        int i = 0;
        foreach (ulong pfn in chosen)
        {
            pfns[i] = pfns[i + 1] = pfn;
            states[i] = new rmp_state { assigned = 1, pagesize = (byte)(huge ? 1 : 0), asid = 1, gpa = pfn << 12 };
            states[i + 1] = new rmp_state { pagesize = (byte)(huge ? 1 : 0) };
            i += 2;
        }

        return (pfns, states);
    }

    [GlobalCleanup]
    public void Cleanup() => _t.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Pairs * 2, Description = "C reference, raw table")]
    [BenchmarkCategory("RmpUpdate4K")]
    public ulong C_4K() => Expect0(_t.C.UpdateBatch(_pfns4K, _states4K));

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# raw store")]
    [BenchmarkCategory("RmpUpdate4K")]
    public ulong Raw_4K() => Run(_t.Raw, _pfns4K, _states4K);

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# compact store")]
    [BenchmarkCategory("RmpUpdate4K")]
    public ulong Compact_4K() => Run(_t.Compact, _pfns4K, _states4K);

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# segmented store")]
    [BenchmarkCategory("RmpUpdate4K")]
    public ulong Segmented_4K() => Run(_t.Segmented, _pfns4K, _states4K);

    [Benchmark(Baseline = true, OperationsPerInvoke = Pairs * 2, Description = "C reference, raw table")]
    [BenchmarkCategory("RmpUpdate2M")]
    public ulong C_2M() => Expect0(_t.C.UpdateBatch(_pfns2M, _states2M));

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# raw store")]
    [BenchmarkCategory("RmpUpdate2M")]
    public ulong Raw_2M() => Run(_t.Raw, _pfns2M, _states2M);

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# compact store")]
    [BenchmarkCategory("RmpUpdate2M")]
    public ulong Compact_2M() => Run(_t.Compact, _pfns2M, _states2M);

    [Benchmark(OperationsPerInvoke = Pairs * 2, Description = "C# segmented store")]
    [BenchmarkCategory("RmpUpdate2M")]
    public ulong Segmented_2M() => Run(_t.Segmented, _pfns2M, _states2M);

    private static ulong Run(RmpTable rmp, ulong[] pfns, rmp_state[] states)
    {
        ulong failed = 0;
        for (int i = 0; i < pfns.Length; i++)
        {
            failed += rmp.RmpUpdate(new kvm_pfn_t(pfns[i]), states[i]) == RmpUpdateResult.Success ? 0UL : 1UL;
        }

        return Expect0(failed);
    }

    internal static ulong Expect0(ulong failed)
        => failed == 0 ? 0UL : throw new InvalidOperationException($"{failed} RMP instructions failed; the benchmark's sequence is wrong.");
}

/// <summary>
/// PSMASH of assigned 2M entries at random 2 MiB-aligned pfns (each iteration's setup assigns them again, outside the
/// measurement). C reference (one native call per batch) as the baseline against the C# table over each store. One
/// operation = one PSMASH.
/// </summary>
[InvocationCount(1)]
[AllocationBudget(1, Reason = "measured 1 B/op (4 KiB per 1-invocation iteration) in dry runs; PSMASH itself allocates nothing")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class RmpPsmashBenchmarks
{
    private const int Regions = 1 << 12;

    private RmpTableSet _t = null!;
    private ulong[] _heads = null!;
    private ulong[] _undoPfns = null!;
    private rmp_state[] _undoStates = null!;

    /// <summary>Host sizes; a dry run takes the smallest.</summary>
    public static IEnumerable<int> Hosts => BenchConfig.Dry ? [64] : [64, 1024];

    [ParamsSource(nameof(Hosts))]
    public int HostGiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        ulong pages = (ulong)HostGiB << 18;
        _t = new RmpTableSet(pages);
        _heads = RmpTableSet.DistinctRandom(Regions, pages >> 9, 9, seed: 3);

        // After a PSMASH the region holds 512 assigned 4K entries: returning each page to shared undoes it.
        _undoPfns = new ulong[Regions * 512];
        _undoStates = new rmp_state[Regions * 512];
        for (int r = 0; r < Regions; r++)
        {
            for (int p = 0; p < 512; p++)
            {
                _undoPfns[(r * 512) + p] = _heads[r] + (ulong)p;
            }
        }

        _first = true;
    }

    private bool _first;

    [IterationSetup]
    public void Assign()
    {
        var assign = new rmp_state[Regions];
        for (int r = 0; r < Regions; r++)
        {
            assign[r] = new rmp_state { assigned = 1, pagesize = 1, asid = 1, gpa = _heads[r] << 12 };
        }

        foreach (var rmp in _t.Managed)
        {
            if (!_first)
            {
                for (int i = 0; i < _undoPfns.Length; i++)
                {
                    rmp.RmpUpdate(new kvm_pfn_t(_undoPfns[i]), _undoStates[i]);
                }
            }

            for (int r = 0; r < Regions; r++)
            {
                rmp.RmpUpdate(new kvm_pfn_t(_heads[r]), assign[r]);
            }
        }

        if (!_first)
        {
            _t.C.UpdateBatch(_undoPfns, _undoStates);
        }

        RmpUpdateBenchmarks.Expect0(_t.C.UpdateBatch(_heads, assign));
        _first = false;
    }

    [GlobalCleanup]
    public void Cleanup() => _t.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Regions, Description = "C reference, raw table")]
    [BenchmarkCategory("Psmash")]
    public ulong C() => _t.C.PsmashBatch(_heads);

    [Benchmark(OperationsPerInvoke = Regions, Description = "C# raw store")]
    [BenchmarkCategory("Psmash")]
    public ulong Raw() => Run(_t.Raw);

    [Benchmark(OperationsPerInvoke = Regions, Description = "C# compact store")]
    [BenchmarkCategory("Psmash")]
    public ulong Compact() => Run(_t.Compact);

    [Benchmark(OperationsPerInvoke = Regions, Description = "C# segmented store")]
    [BenchmarkCategory("Psmash")]
    public ulong Segmented() => Run(_t.Segmented);

    private ulong Run(RmpTable rmp)
    {
        ulong failed = 0;
        ref ulong head = ref MemoryMarshal.GetArrayDataReference(_heads);
        for (int r = 0; r < Regions; r++)
        {
            failed += rmp.Psmash(new kvm_pfn_t(System.Runtime.CompilerServices.Unsafe.Add(ref head, r))) == PsmashResult.Success ? 0UL : 1UL;
        }

        return failed;
    }
}
