using FastRmp.Engine.Rmp;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>The compact store's memory budgets, and zero managed allocations per operation.</summary>
public sealed class RmpMemoryTests
{
    private const ulong Pages = 1UL << 18; // a 1 GiB host

    [Fact]
    public void The_raw_table_is_16_KiB_plus_16_bytes_per_page()
    {
        using var raw = new RawRmpStore(Pages);
        Assert.Equal(0x4000 + (16 * (long)Pages), raw.MemoryBytes);
    }

    [Fact]
    public void A_shared_host_costs_a_few_bits_per_page()
    {
        using var compact = new CompactRmpStore(Pages);
        double bitsPerPage = compact.MemoryBytes * 8.0 / Pages;
        Assert.True(bitsPerPage < 2.5, $"{bitsPerPage:F2} bits per page");
    }

    [Fact]
    public void All_memory_assigned_at_4K_with_arbitrary_gpas_costs_at_most_half_the_raw_table()
    {
        using var rmp = RmpTable.CreateCompact(Pages);
        var random = new Random(3);
        for (ulong p = 0; p < Pages; p++)
        {
            ulong gfn = (ulong)random.NextInt64(1L << 39);
            Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(p), Private(gfn, (uint)random.Next(1024))));
        }

        long raw = 0x4000 + (16 * (long)Pages);
        long compact = rmp.Store.MemoryBytes;
        Assert.True(compact * 2 <= raw, $"compact {compact} bytes, raw {raw} bytes");
        Assert.True(compact > raw * 0.4, $"compact {compact} bytes: the 7-byte detail records must really be there");
    }

    [Fact]
    public void All_memory_assigned_in_2M_entries_costs_at_most_a_32nd_of_the_raw_table()
    {
        using var rmp = RmpTable.CreateCompact(Pages);
        for (ulong p = 0; p < Pages; p += 512)
        {
            Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(p), Private(p, 1, huge: true)));
        }

        long raw = 0x4000 + (16 * (long)Pages);
        Assert.True(rmp.Store.MemoryBytes * 32 <= raw, $"compact {rmp.Store.MemoryBytes} bytes, raw {raw} bytes");
    }

    [Fact]
    public void Detail_records_are_returned_to_the_pool_when_a_region_is_shared_again()
    {
        using var store = new CompactRmpStore(4096);
        using var rmp = RmpTable.Create(store);
        rmp.RmpUpdate(Pfn(10), Private(10, 1));
        rmp.RmpUpdate(Pfn(11), Private(30, 1)); // not gpa 11: the region's entries are not linear
        Assert.Equal(1, store.DetailPagesInUse);
        rmp.RmpUpdate(Pfn(10), Shared());
        Assert.Equal(1, store.DetailPagesInUse);
        rmp.RmpUpdate(Pfn(11), Shared());
        Assert.Equal(0, store.DetailPagesInUse);
        rmp.RmpUpdate(Pfn(512), Private(0, 1, huge: true));
        rmp.Psmash(Pfn(512));
        Assert.Equal(0, store.DetailPagesInUse); // PSMASH leaves linear entries: the template holds them
        rmp.RmpUpdate(Pfn(513), Private(7, 2));
        Assert.Equal(1, store.DetailPagesInUse);
    }

    [Fact]
    public void Entries_linear_in_their_region_need_no_detail_records()
    {
        using var store = new CompactRmpStore(4096);
        using var rmp = RmpTable.Create(store);
        for (ulong p = 520; p < 1024; p++)
        {
            Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(p), Private(p + 1000, 3)));
            Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(p), 3, Gfn(p + 1000), RmpPageSize.Size4K, true, out _));
        }

        Assert.Equal(0, store.DetailPagesInUse);
        Assert.Equal(1000UL + 700, rmp.Read(Pfn(700)).gpa);
        Assert.True(rmp.Read(Pfn(700)).validated);
        Assert.False(rmp.Read(Pfn(519)).assigned);
        rmp.RmpUpdate(Pfn(600), Private(5, 3)); // breaks the line: the region turns into records, entries unchanged
        Assert.Equal(1, store.DetailPagesInUse);
        Assert.Equal(1000UL + 700, rmp.Read(Pfn(700)).gpa);
        Assert.Equal(5UL, rmp.Read(Pfn(600)).gpa);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Operations_allocate_no_managed_memory(string store)
    {
        using var rmp = Create(store, 1 << 16);
        rmp.SetInUse(Pfn(60_000), true);
        var warmUp = new Random(1);
        var measured = new Random(2);
        Run(rmp, 20_000, warmUp); // JIT, detail slabs

        // The least of three measured rounds: a few bytes the runtime sometimes charges to the thread (tiering, a
        // test host's bookkeeping) show in one round; an operation that allocates shows in every round, 100,000 times.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(rmp, 100_000, measured);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, allocated);
    }

    private static void Run(RmpTable rmp, int operations, Random random)
    {
        Span<ulong> pfns = stackalloc ulong[16];
        Span<RmpLookup> results = stackalloc RmpLookup[16];
        for (int i = 0; i < operations; i++)
        {
            ulong p = (ulong)random.Next(1 << 16);
            ulong head = p & ~511UL;
            switch (i % 8)
            {
                case 0: rmp.RmpUpdate(Pfn(p), Private(p, 1)); break;
                case 1: rmp.RmpUpdate(Pfn(head), Private(head, 1, huge: true)); break;
                case 2: rmp.Pvalidate(Pfn(p), 1, Gfn(p), RmpPageSize.Size4K, true, out _); break;
                case 3: rmp.Psmash(Pfn(head)); break;
                case 4: rmp.CheckGuestAccess(Pfn(p), 1, Gfn(p), true, false, PgLevel.Level4K, out _); break;
                case 5: rmp.RmpUpdate(Pfn(p), Shared()); break;
                case 6:
                    pfns.Fill(p);
                    rmp.Store.Lookup(pfns, results);
                    break;
                default: rmp.RmpUpdate(Pfn(head), Shared(huge: true)); break;
            }
        }
    }
}
