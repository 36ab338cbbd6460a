using FastRmp.Engine.Allocation;
using FastRmp.Engine.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>
/// Full 4K tables filled by <see cref="NptMap.MapRun4K"/> are kept as linear entries: a map built that way must answer
/// every question exactly as one built leaf by leaf with <see cref="NptMap.Map"/>, before and after random maps and
/// zaps inside and around them.
/// </summary>
public sealed class NptLinearTableTests
{
    private const ulong Base = 0x4_0000; // gfn of 1 GiB: the blocks below sit in the second 1G entry

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void A_map_of_linear_tables_agrees_with_one_built_leaf_by_leaf(int seed)
    {
        var random = new Random(seed);
        using var runs = new NptMap();
        using var leaves = new NptMap();
        var pfns = new kvm_pfn_t[512];
        for (ulong block = 0; block < 8; block++)
        {
            var gfn = new gfn_t(Base + (block * 512));
            ulong pfn = 0x10_0000 + (block * 520) + (ulong)random.Next(8);
            bool isPrivate = block != 5;
            for (int i = 0; i < 512; i++)
            {
                pfns[i] = new kvm_pfn_t(pfn + (ulong)i);
                Assert.Equal(0, leaves.Map(gfn + (ulong)i, pfns[i], PgLevel.Level4K, isPrivate));
            }

            if (block % 2 == 0)
            {
                runs.MapRun4K(gfn, [new PfnRange(pfns[0], 512)], isPrivate); // the whole table at once
            }
            else
            {
                Assert.Equal(0, runs.Map(gfn, pfns[0], PgLevel.Level4K, isPrivate)); // the VM's way: page 0, then the rest
                PfnRange[] rest = block % 4 == 1 ? [new PfnRange(pfns[1], 200), new PfnRange(pfns[201], 311)] : [new PfnRange(pfns[1], 511)];
                runs.MapRun4K(gfn + 1, rest, isPrivate);
            }
        }

        // One table that is not linear (a gap in the frames) stays a table.
        pfns[300] = new kvm_pfn_t(0x77);
        runs.MapRun4K(new gfn_t(Base + (8 * 512)), [new PfnRange(pfns[0], 300), new PfnRange(pfns[300], 1), new PfnRange(pfns[301], 211)], true);
        for (int i = 0; i < 512; i++)
        {
            leaves.Map(new gfn_t(Base + (8 * 512) + (ulong)i), pfns[i], PgLevel.Level4K, true);
        }

        AssertSame(runs, leaves);
        Assert.Equal(leaves.TablePages - 8, runs.TablePages); // the 8 linear tables hold no page

        for (int step = 0; step < 300; step++)
        {
            ulong gfn = Base - 512 + (ulong)random.Next(11 * 512);
            if (random.Next(2) == 0)
            {
                var level = random.Next(4) switch { 0 => PgLevel.Level2M, 1 => PgLevel.Level1G, _ => PgLevel.Level4K };
                var pfn = new kvm_pfn_t((ulong)random.Next(1 << 20) << 9);
                bool isPrivate = random.Next(2) == 0;
                Assert.Equal(leaves.Map(new gfn_t(gfn), pfn, level, isPrivate), runs.Map(new gfn_t(gfn), pfn, level, isPrivate));
            }
            else
            {
                ulong end = gfn + 1 + (ulong)random.Next(1200);
                var filter = (ZapFilter)random.Next(3);
                Assert.Equal(leaves.Zap(new gfn_t(gfn), new gfn_t(end), filter), runs.Zap(new gfn_t(gfn), new gfn_t(end), filter));
            }

            AssertSame(runs, leaves);
        }
    }

    private static void AssertSame(NptMap runs, NptMap leaves)
    {
        Assert.Equal(leaves.Leaves4K, runs.Leaves4K);
        Assert.Equal(leaves.Leaves2M, runs.Leaves2M);
        Assert.Equal(leaves.Leaves1G, runs.Leaves1G);
        Assert.Equal(leaves.Splits, runs.Splits);
        for (ulong g = Base - 512; g < Base + (10 * 512); g++)
        {
            if (leaves.Lookup(new gfn_t(g)) != runs.Lookup(new gfn_t(g)))
            {
                Assert.Fail($"gfn 0x{g:x}: leaf by leaf {leaves.Lookup(new gfn_t(g))}, by runs {runs.Lookup(new gfn_t(g))}");
            }
        }

        for (ulong g = Base - 512; g < Base + (10 * 512); g += 37)
        {
            Assert.Equal(leaves.UnmappedRun(new gfn_t(g), 512), runs.UnmappedRun(new gfn_t(g), 512));
        }

        Assert.Equal(Collect(leaves), Collect(runs));
        Assert.Equal(CollectRuns(leaves), CollectRuns(runs));
    }

    private static List<(ulong, NptLeaf)> Collect(NptMap map)
    {
        var visitor = new Leaves([]);
        map.ForEachLeaf(ref visitor);
        return visitor.List;
    }

    private static List<(ulong, NptLeaf, ulong)> CollectRuns(NptMap map)
    {
        var visitor = new Runs([]);
        map.ForEachLeafRun(ref visitor);
        return visitor.List;
    }

    private readonly struct Leaves(List<(ulong, NptLeaf)> list) : INptVisitor
    {
        public List<(ulong, NptLeaf)> List => list;

        public void Leaf(gfn_t gfn, NptLeaf leaf) => list.Add((gfn.Value, leaf));
    }

    private readonly struct Runs(List<(ulong, NptLeaf, ulong)> list) : INptRunVisitor
    {
        public List<(ulong, NptLeaf, ulong)> List => list;

        public void Run(gfn_t gfn, NptLeaf first, ulong leaves) => list.Add((gfn.Value, first, leaves));
    }
}
