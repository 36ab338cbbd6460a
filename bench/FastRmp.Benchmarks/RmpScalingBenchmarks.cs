using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastRmp.Engine.Rmp;

namespace FastRmp.Benchmarks;

/// <summary>
/// KVM's RMP lookup across host sizes from 1 GiB to 4 TiB: the raw hardware table (16 bytes per 4 KiB page) against
/// the compact store (about 2 bits per page), and a naive <see cref="Dictionary{TKey,TValue}"/> RMP on small hosts.
/// Same population and random pfns as <see cref="RmpLookupBenchmarks"/>; "independent" lets the CPU overlap misses,
/// "dependent" needs each result before the next lookup (the fault path's pattern). <c>--chart</c> draws the curve.
/// </summary>
/// <remarks>
/// The raw table of a 4 TiB host is 16 GiB; on the 24 GiB benchmark machine, shared with other work, the raw store
/// stops at <see cref="RawCapGiB"/> (FASTRMP_BENCH_RAW_CAP_GIB raises it). The dictionary holds one entry per
/// non-zero raw entry (about 10 M at 64 GiB, 1 GB of managed heap) and stops at 64 GiB.
/// </remarks>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class RmpScalingBenchmarks
{
    private const int Lookups = 1 << 16;
    private const int DictionaryCapGiB = 64;

    private RmpTable? _table;
    private RawRmpStore? _raw;
    private CompactRmpStore? _compact;
    private Dictionary<ulong, byte>? _dictionary;
    private ulong[] _pfns = null!;
    private byte[] _bytes = null!;

    /// <summary>Largest host for the raw store, in GiB (its table is 4 MiB per GiB of host).</summary>
    public static int RawCapGiB => int.TryParse(Environment.GetEnvironmentVariable("FASTRMP_BENCH_RAW_CAP_GIB"), out int cap) ? cap : 1024;

    /// <summary>Every (store, host size) measured; a dry run takes the smallest host of each store.</summary>
    public static IEnumerable<ScalingCase> Cases()
    {
        int[] sizes = BenchConfig.Dry ? [1] : [1, 4, 16, 64, 256, 1024, 4096];
        foreach (string store in new[] { "raw", "compact", "dictionary" })
        {
            int cap = store switch { "raw" => RawCapGiB, "dictionary" => DictionaryCapGiB, _ => int.MaxValue };
            foreach (int gib in sizes.Where(s => s <= cap))
            {
                yield return new ScalingCase(store, gib);
            }
        }
    }

    [ParamsSource(nameof(Cases))]
    public ScalingCase Case { get; set; } = new("compact", 1);

    [GlobalSetup]
    public void Setup()
    {
        ulong pages = (ulong)Case.HostGiB << 18;
        _table = Case.Store == "raw" ? RmpTable.CreateRaw(pages) : RmpTable.CreateCompact(pages);
        RmpLookupBenchmarks.Populate(_table);
        var random = new Random(42);
        _pfns = new ulong[Lookups];
        for (int i = 0; i < Lookups; i++)
        {
            _pfns[i] = (ulong)random.NextInt64((long)pages);
        }

        _bytes = new byte[Lookups];
        switch (Case.Store)
        {
            case "raw":
                _raw = (RawRmpStore)_table.Store;
                break;
            case "compact":
                _compact = (CompactRmpStore)_table.Store;
                break;
            default:
                _dictionary = NaiveDictionaryRmp(_table);
                _table.Dispose();
                _table = null;
                break;
        }
    }

    /// <summary>
    /// The naive RMP: a dictionary from pfn to the entry's assigned (bit 0) and page-size (bit 1) bits, holding the
    /// non-zero entries only. Checked against the store it was built from on the benchmark's pfns.
    /// </summary>
    private Dictionary<ulong, byte> NaiveDictionaryRmp(RmpTable table)
    {
        var dictionary = new Dictionary<ulong, byte>();
        for (ulong pfn = 0; pfn < table.Pages; pfn++)
        {
            var e = table.Store.Read(pfn);
            byte bits = (byte)((e.assigned ? 1 : 0) | (e.pagesize ? 2 : 0));
            if (bits != 0)
            {
                dictionary[pfn] = bits;
            }
        }

        foreach (ulong pfn in _pfns)
        {
            if (DictionaryLookup(dictionary, pfn) != table.Store.Lookup(pfn).Raw)
            {
                throw new InvalidOperationException($"the dictionary RMP disagrees with the store at pfn 0x{pfn:x}");
            }
        }

        return dictionary;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte DictionaryLookup(Dictionary<ulong, byte> rmp, ulong pfn)
    {
        rmp.TryGetValue(pfn, out byte entry);
        rmp.TryGetValue(pfn & ~511UL, out byte head);
        return (byte)((entry & 1) | (2 << ((head >> 1) & 1)));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _table?.Dispose();
        _dictionary = null;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    [BenchmarkCategory("Scaling.Independent")]
    public byte Independent()
    {
        ref ulong pfn = ref MemoryMarshal.GetArrayDataReference(_pfns);
        ref byte result = ref MemoryMarshal.GetArrayDataReference(_bytes);
        if (_raw is { } raw)
        {
            for (nint i = 0; i < Lookups; i++)
            {
                Unsafe.Add(ref result, i) = raw.Lookup(Unsafe.Add(ref pfn, i)).Raw;
            }
        }
        else if (_compact is { } compact)
        {
            for (nint i = 0; i < Lookups; i++)
            {
                Unsafe.Add(ref result, i) = compact.Lookup(Unsafe.Add(ref pfn, i)).Raw;
            }
        }
        else
        {
            var dictionary = _dictionary!;
            for (nint i = 0; i < Lookups; i++)
            {
                Unsafe.Add(ref result, i) = DictionaryLookup(dictionary, Unsafe.Add(ref pfn, i));
            }
        }

        return _bytes[^1];
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    [BenchmarkCategory("Scaling.Dependent")]
    public ulong Dependent()
    {
        var pfns = _pfns;
        ulong chain = 0;
        if (_raw is { } raw)
        {
            for (int i = 0; i < pfns.Length; i++)
            {
                chain += raw.Lookup(pfns[i] ^ (chain & 1)).Raw;
            }
        }
        else if (_compact is { } compact)
        {
            for (int i = 0; i < pfns.Length; i++)
            {
                chain += compact.Lookup(pfns[i] ^ (chain & 1)).Raw;
            }
        }
        else
        {
            var dictionary = _dictionary!;
            for (int i = 0; i < pfns.Length; i++)
            {
                chain += DictionaryLookup(dictionary, pfns[i] ^ (chain & 1));
            }
        }

        return chain;
    }
}

/// <summary>One point of the scaling curve: a store and a host size.</summary>
/// <param name="Store">raw, compact or dictionary.</param>
/// <param name="HostGiB">Host memory in GiB.</param>
public sealed record ScalingCase(string Store, int HostGiB)
{
    /// <inheritdoc />
    public override string ToString() => $"{Store} {HostGiB} GiB";
}
