using FastRmp.Engine.Kvm;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>The VM's map of shared gfns to the host pages behind them (an unmanaged open-addressing hash map).</summary>
public sealed class SharedPageMapTests
{
    [Fact]
    public void Pages_are_found_by_gfn_and_listed_once_each()
    {
        using var map = new SharedPageMap();
        (ulong Gfn, ulong Pfn)[] pages = [((1UL << 18) + 5, 0), (3, 7), ((1UL << 36) - 1, 1UL << 40), (1UL << 18, 9)];
        foreach (var (gfn, pfn) in pages)
        {
            Assert.False(map.TryGet(new gfn_t(gfn), out _));
            map.Add(new gfn_t(gfn), new kvm_pfn_t(pfn));
        }

        Assert.Equal(4, map.Count);
        foreach (var (gfn, pfn) in pages)
        {
            Assert.True(map.TryGet(new gfn_t(gfn), out var found));
            Assert.Equal(pfn, found.Value); // pfn 0 is a page too: entries hold pfn + 1
        }

        Assert.False(map.TryGet(new gfn_t(4), out _)); // a neighbour
        Assert.False(map.TryGet(new gfn_t(1UL << 40), out _));
        var listed = new List<(ulong, ulong)>();
        map.ForEach((gfn, pfn) => listed.Add((gfn.Value, pfn.Value)));
        Assert.Equal(pages.OrderBy(p => p.Gfn).Select(p => (p.Gfn, p.Pfn)), listed.Order());
        Assert.Throws<InvalidOperationException>(() => map.Add(new gfn_t(3), new kvm_pfn_t(1))); // 3 has a page
    }

    [Fact]
    public void A_hundred_thousand_scattered_pages_survive_every_growth()
    {
        // The table starts at 1024 slots and doubles at 3/4 full: 100,000 pages cross seven growths.
        using var map = new SharedPageMap();
        var random = new Random(5);
        var pages = new Dictionary<ulong, ulong>();
        while (pages.Count < 100_000)
        {
            ulong gfn = (ulong)random.NextInt64(1L << 36);
            if (pages.TryAdd(gfn, (ulong)pages.Count))
            {
                map.Add(new gfn_t(gfn), new kvm_pfn_t((ulong)pages.Count - 1));
            }
        }

        Assert.Equal(100_000, map.Count);
        foreach (var (gfn, pfn) in pages)
        {
            Assert.True(map.TryGet(new gfn_t(gfn), out var found) && found.Value == pfn, $"gfn 0x{gfn:x}");
        }

        Assert.False(map.TryGet(new gfn_t(1UL << 37), out _));
    }

    [Fact]
    public void A_disposed_map_throws_instead_of_reading_freed_memory()
    {
        var map = new SharedPageMap();
        map.Add(new gfn_t(10), new kvm_pfn_t(20));
        map.Dispose();
        map.Dispose();
        Assert.Throws<ObjectDisposedException>(() => map.TryGet(new gfn_t(10), out _));
    }
}
