using FastRmp.Engine.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Tests.Kvm;

public sealed class NptMapTests
{
    [Fact]
    public void Leaves_map_gfns_to_frames_at_their_level()
    {
        using var npt = new NptMap();
        Assert.Equal(0, npt.Map(new gfn_t(0x1234), new kvm_pfn_t(0x9999), PgLevel.Level4K, isPrivate: true));
        npt.Map(new gfn_t(0x400), new kvm_pfn_t(0x8_0000), PgLevel.Level2M, isPrivate: false);
        npt.Map(new gfn_t(0x4_0000), new kvm_pfn_t(0x100_0000), PgLevel.Level1G, isPrivate: true);
        Assert.Equal(new NptLeaf(PgLevel.Level4K, new kvm_pfn_t(0x9999), true), npt.Lookup(new gfn_t(0x1234)));
        Assert.Equal(new NptLeaf(PgLevel.Level2M, new kvm_pfn_t(0x8_0005), false), npt.Lookup(new gfn_t(0x405)));
        Assert.Equal(new NptLeaf(PgLevel.Level1G, new kvm_pfn_t(0x100_0000 + 0x12345), true), npt.Lookup(new gfn_t(0x4_0000 + 0x12345)));
        Assert.False(npt.Lookup(new gfn_t(0x1235)).IsPresent);
        Assert.Equal((1, 1, 1), (npt.Leaves4K, npt.Leaves2M, npt.Leaves1G));
    }

    [Fact]
    public void A_smaller_mapping_inside_a_huge_leaf_splits_it()
    {
        using var npt = new NptMap();
        npt.Map(new gfn_t(0x200), new kvm_pfn_t(0x600), PgLevel.Level2M, isPrivate: true);
        npt.Map(new gfn_t(0x203), new kvm_pfn_t(0x7777), PgLevel.Level4K, isPrivate: true);
        Assert.Equal(1, npt.Splits);
        Assert.Equal(512, npt.Leaves4K);
        Assert.Equal(0, npt.Leaves2M);
        Assert.Equal(new kvm_pfn_t(0x602), npt.Lookup(new gfn_t(0x202)).Pfn);
        Assert.Equal(new kvm_pfn_t(0x7777), npt.Lookup(new gfn_t(0x203)).Pfn);
    }

    [Fact]
    public void A_huge_leaf_replaces_the_small_leaves_below_it()
    {
        using var npt = new NptMap();
        for (ulong g = 0x200; g < 0x210; g++)
        {
            npt.Map(new gfn_t(g), new kvm_pfn_t(g), PgLevel.Level4K, isPrivate: true);
        }

        Assert.Equal(16, npt.Map(new gfn_t(0x200), new kvm_pfn_t(0x200), PgLevel.Level2M, isPrivate: true));
        Assert.Equal((0L, 1L), (npt.Leaves4K, npt.Leaves2M));
    }

    [Fact]
    public void A_zap_removes_every_leaf_it_touches_whole_and_honours_the_filter()
    {
        using var npt = new NptMap();
        npt.Map(new gfn_t(0x200), new kvm_pfn_t(0x200), PgLevel.Level2M, isPrivate: true);
        for (ulong g = 0x400; g < 0x408; g++)
        {
            npt.Map(new gfn_t(g), new kvm_pfn_t(g), PgLevel.Level4K, isPrivate: g % 2 == 0);
        }

        Assert.Equal(4, npt.Zap(new gfn_t(0x400), new gfn_t(0x408), ZapFilter.Shared));
        Assert.Equal(2, npt.Zap(new gfn_t(0x3FF), new gfn_t(0x401))); // the 2M leaf (partially covered) and gfn 0x400
        Assert.Equal(0, npt.Zap(new gfn_t(0x300), new gfn_t(0x301)));
        Assert.False(npt.Lookup(new gfn_t(0x200)).IsPresent);
        Assert.Equal(3, npt.Leaves4K);
        Assert.True(npt.Lookup(new gfn_t(0x402)).IsPrivate);
    }

    [Fact]
    public void Every_leaf_is_visited_once()
    {
        using var npt = new NptMap();
        npt.Map(new gfn_t(0x200), new kvm_pfn_t(0x200), PgLevel.Level2M, isPrivate: true);
        npt.Map(new gfn_t(7), new kvm_pfn_t(70), PgLevel.Level4K, isPrivate: false);
        var counter = new Counter();
        npt.ForEachLeaf(ref counter);
        Assert.Equal(2, counter.Leaves);
        Assert.Equal(513UL, counter.Pages);
    }

    private struct Counter : INptVisitor
    {
        public int Leaves;
        public ulong Pages;

        public void Leaf(gfn_t gfn, NptLeaf leaf)
        {
            Leaves++;
            Pages += 1UL << ((int)(leaf.Level - 1) * 9);
        }
    }
}
