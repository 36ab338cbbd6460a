using FastRmp.Engine.Rmp;
using FastRmp.Tests.Common;

namespace FastRmp.Benchmarks;

/// <summary>The RMP of one host in every implementation the instruction suites compare: the C reference's raw table and the C# raw, compact and segmented stores.</summary>
internal sealed class RmpTableSet : IDisposable
{
    public RmpTableSet(ulong pages)
    {
        C = new NativeRmpReference(pages);
        Raw = RmpTable.CreateRaw(pages);
        Compact = RmpTable.CreateCompact(pages);
        Segmented = RmpTable.CreateSegmented(pages);
    }

    public NativeRmpReference C { get; }

    public RmpTable Raw { get; }

    public RmpTable Compact { get; }

    public RmpTable Segmented { get; }

    /// <summary>The C# tables.</summary>
    public RmpTable[] Managed => [Raw, Compact, Segmented];

    /// <summary><paramref name="count"/> distinct random pfns below <paramref name="units"/> &lt;&lt; <paramref name="shift"/>, aligned to 2^<paramref name="shift"/> pages.</summary>
    public static ulong[] DistinctRandom(int count, ulong units, int shift, int seed)
    {
        var random = new Random(seed);
        var chosen = new HashSet<ulong>();
        while (chosen.Count < count)
        {
            chosen.Add((ulong)random.NextInt64((long)units) << shift);
        }

        return [.. chosen];
    }

    public void Dispose()
    {
        C.Dispose();
        Raw.Dispose();
        Compact.Dispose();
        Segmented.Dispose();
    }
}
