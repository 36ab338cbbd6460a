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
