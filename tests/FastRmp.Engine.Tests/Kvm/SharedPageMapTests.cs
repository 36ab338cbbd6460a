using FastRmp.Engine.Kvm;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>The VM's map of shared gfns to the host pages behind them (unmanaged, chunked by 1 GiB of guest memory).</summary>
public sealed class SharedPageMapTests
{
    [Fact]
    public void Pages_are_found_by_gfn_across_chunks_and_listed_in_gfn_order()
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

        Assert.False(map.TryGet(new gfn_t(4), out _)); // a neighbour in an allocated chunk
        Assert.False(map.TryGet(new gfn_t(1UL << 40), out _)); // beyond the 48-bit address space
        var listed = new List<(ulong, ulong)>();
        map.ForEach((gfn, pfn) => listed.Add((gfn.Value, pfn.Value)));
        Assert.Equal(pages.OrderBy(p => p.Gfn).Select(p => (p.Gfn, p.Pfn)), listed);
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Add(new gfn_t(1UL << 36), new kvm_pfn_t(1)));
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
