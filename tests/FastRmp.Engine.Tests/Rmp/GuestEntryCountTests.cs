using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>
/// Counting a guest's entries over runs of pages in no pfn order with the per-region mask cache gives the counts of
/// reading every entry (the raw store) and of the compact store's own per-run count.
/// </summary>
public class GuestEntryCountTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_mask_cache_counts_what_reading_every_entry_counts(int seed)
    {
        const ulong Pages = 64 * 512;
        var rng = new Random(seed);
        using var raw = RmpTable.CreateRaw(Pages);
        using var compact = RmpTable.CreateCompact(Pages);
        int huge = 0, linear = 0, mixed = 0;
        for (ulong region = 0; region < Pages / 512; region++)
        {
            ulong first = region * 512;
            switch (rng.Next(4))
            {
                case 0: // a 2M entry of ASID 1 or 2
                    Update(first, Private((first + 0x40000) & ~511UL, (uint)rng.Next(1, 3), huge: true));
                    huge++;
                    break;
                case 1: // 4K entries of one ASID at linear gpas, some left shared: the compact store's template
                    uint asid = (uint)rng.Next(1, 3);
                    for (ulong i = 0; i < 512; i++)
                    {
                        if (rng.Next(8) != 0)
                        {
                            Update(first + i, Private(first + i + 0x40000, asid));
                        }
                    }

                    linear++;
                    break;
                case 2: // 4K entries of several ASIDs at random gpas: per-entry records
                    for (ulong i = 0; i < 512; i++)
                    {
                        if (rng.Next(3) != 0)
                        {
                            Update(first + i, Private((ulong)rng.Next(1 << 20), (uint)rng.Next(1, 4)));
                        }
                    }

                    mixed++;
                    break;
                default: // nothing assigned
                    break;
            }
        }

        Assert.True(huge > 0 && linear > 0 && mixed > 0, $"every kind of region: {huge} huge, {linear} linear, {mixed} mixed");
        long allHeads = 0;
        for (uint asid = 1; asid <= 3; asid++)
        {
            var cache = compact.CreateGuestMaskCache(asid);
            Assert.NotNull(cache);
            long rawHeads = 0, rawEntries = 0, perRunHeads = 0, perRunEntries = 0, cachedHeads = 0, cachedEntries = 0;
            for (int run = 0; run < 3000; run++)
            {
                // mostly single pages at random pfns (4K folios in file order), some runs across region boundaries
                ulong count = rng.Next(4) == 0 ? (ulong)rng.Next(1, 1300) : 1;
                var pfn = new kvm_pfn_t((ulong)rng.NextInt64((long)(Pages - count + 1)));
                raw.CountGuestEntries(pfn, count, asid, ref rawHeads, ref rawEntries);
                compact.CountGuestEntries(pfn, count, asid, ref perRunHeads, ref perRunEntries);
                compact.CountGuestEntries(pfn, count, asid, ref cachedHeads, ref cachedEntries, cache);
                Assert.Equal((rawHeads, rawEntries), (cachedHeads, cachedEntries));
            }

            Assert.Equal((rawHeads, rawEntries), (perRunHeads, perRunEntries));
            Assert.True(rawEntries > 0, $"ASID {asid}: {rawHeads} heads, {rawEntries} entries");
            allHeads += rawHeads;
        }

        Assert.True(allHeads > 0, "some runs start at a 2M entry of their ASID");

        void Update(ulong pfn, rmp_state state)
        {
            Assert.Equal(RmpUpdateResult.Success, raw.RmpUpdate(new kvm_pfn_t(pfn), state));
            Assert.Equal(RmpUpdateResult.Success, compact.RmpUpdate(new kvm_pfn_t(pfn), state));
        }
    }

    [Fact]
    public void A_run_past_the_table_is_refused_with_the_cache_too()
    {
        using var compact = RmpTable.CreateCompact(1024);
        var cache = compact.CreateGuestMaskCache(1);
        long heads = 0, entries = 0;
        Assert.ThrowsAny<ArgumentException>(() => compact.CountGuestEntries(Pfn(1000), 100, 1, ref heads, ref entries, cache));
    }
}
