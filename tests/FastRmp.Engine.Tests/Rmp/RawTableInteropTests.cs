using FastRmp.Engine.Rmp;
using FastRmp.Interop.Hardware;
using FastRmp.Tests.Common;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>The raw store is the hardware table: C code compiled against native-stubs' struct reads it directly.</summary>
public sealed unsafe class RawTableInteropTests
{
    [Fact]
    public void C_lookups_over_the_CSharp_raw_table_equal_the_CSharp_lookups()
    {
        using var rmp = RmpTable.CreateRaw(1 << 16);
        var random = new Random(5);
        for (int i = 0; i < 3000; i++)
        {
            ulong p = (ulong)random.Next(1 << 16);
            if (i % 10 == 0)
            {
                rmp.RmpUpdate(Pfn(p & ~511UL), Private(p & ~511UL, 2, huge: true));
            }
            else
            {
                rmp.RmpUpdate(Pfn(p), Private(p, 2));
            }
        }

        var store = (RawRmpStore)rmp.Store;
        var pfns = Enumerable.Range(0, 20_000).Select(_ => (ulong)random.Next(1 << 16)).ToArray();
        var fromC = new byte[pfns.Length];
        NativeRmpReference.LookupBatch(store.Entries, pfns, fromC);
        for (int i = 0; i < pfns.Length; i++)
        {
            Assert.Equal(store.Lookup(pfns[i]).Raw, fromC[i]);
        }

        Assert.Contains(fromC, b => b == new RmpLookup(true, true).Raw);
        Assert.Contains(fromC, b => b == new RmpLookup(true, false).Raw);
        Assert.Contains(fromC, b => b == new RmpLookup(false, false).Raw);
    }

    [Fact]
    public void The_entries_start_16_KiB_after_the_table_base()
    {
        using var store = new RawRmpStore(1024);
        Assert.Equal(RmpConstants.RMPTABLE_CPU_BOOKKEEPING_SZ, (ulong)((byte*)store.Entries - (byte*)store.TableBase));
        Assert.Equal(0, (long)store.TableBase % (2 << 20)); // 2 MiB-aligned, as huge pages need
    }
}

/// <summary>The segmented store is walked by C through its RST exactly as the CPU would.</summary>
public sealed unsafe class SegmentedTableInteropTests
{
    [Fact]
    public void C_walking_the_RST_finds_the_same_entries_as_the_CSharp_store()
    {
        const ulong pages = (1UL << 18) * 3 + 1000; // three 1 GiB segments and a partial fourth
        using var rmp = RmpTable.CreateSegmented(pages, segmentShift: 30);
        var store = (SegmentedRmpStore)rmp.Store;
        var random = new Random(8);
        for (int i = 0; i < 4000; i++)
        {
            ulong p = (ulong)random.NextInt64((long)pages - 512);
            if (i % 8 == 0)
            {
                rmp.RmpUpdate(Pfn(p & ~511UL), Private(p & ~511UL, 1, huge: true));
            }
            else
            {
                rmp.RmpUpdate(Pfn(p), Private(p, 1));
            }
        }

        var pfns = Enumerable.Range(0, 30_000).Select(_ => (ulong)random.NextInt64((long)pages)).ToArray();
        var fromC = new byte[pfns.Length];
        NativeRmpReference.SegmentedLookupBatch(store.TableBase, 30, pfns, fromC);
        for (int i = 0; i < pfns.Length; i++)
        {
            Assert.Equal(store.Lookup(pfns[i]).Raw, fromC[i]);
        }

        var rst = (ulong*)((byte*)store.TableBase + SegmentedRmpStore.RstOffset);
        Assert.Equal(1UL, rst[0] & 0xFFFFF); // 1 GB mapped
        Assert.Equal(1UL, rst[3] & 0xFFFFF); // the partial segment rounds up to 1 GB
        Assert.Equal(0UL, rst[4]);
    }

    [Fact]
    public void More_than_512_segments_are_refused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentedRmpStore((1UL << 18) * 513, segmentShift: 30));
}
