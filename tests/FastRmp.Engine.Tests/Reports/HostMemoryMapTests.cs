using FastRmp.Engine.Allocation;
using FastRmp.Engine.Reports;
using FastRmp.Engine.Rmp;
using FastRmp.Engine.Scenarios;
using FastRmp.Engine.Tests.Rmp;
using FastRmp.Interop.Hardware;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Reports;

/// <summary>HostMemoryMap: each state from the rule that defines it, on a host built by hand and on the scenarios.</summary>
public sealed class HostMemoryMapTests
{
    private const uint Guest = 1;

    /// <summary>
    /// Ten regions, each put in one state by hand (region r = pfns [512 r, 512 r + 512)):
    /// 0 a 2M entry of the guest; 1 a 2M entry PSMASHed (smashed); 2 three 4K entries of the guest (private 4K);
    /// 3 one allocated page and nothing in the RMP (shared); 4 a 4K entry of another guest (shared);
    /// 5 smashed, returned to shared page by page, and made a 2M entry again (private 2M); 6 smashed and every page
    /// returned to shared (shared, still marked smashed); 7 a page allocated then freed (free); 8 untouched (free); 9 a 2M entry of another
    /// guest, smashed (shared: nothing of this guest).
    /// </summary>
    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Every_state_follows_its_definition(string store)
    {
        using var allocator = new BuddyAllocator(Pfn(0), 10 * 512, maxOrder: 10);
        using var rmp = Create(store, 10 * 512);
        for (ulong r = 0; r <= 6; r++)
        {
            if (r != 3)
            {
                allocator.Claim(Pfn(r * 512), 9);
            }
        }

        allocator.Claim(Pfn(9 * 512), 9);
        allocator.Claim(Pfn((3 * 512) + 17), 0);
        allocator.Claim(Pfn((7 * 512) + 5), 0);
        allocator.Free(Pfn((7 * 512) + 5), 0);

        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(0), Private(0, Guest, huge: true)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(512), Private(512, Guest, huge: true)));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(512)));
        for (ulong p = 1024; p < 1027; p++)
        {
            Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(p), Private(p, Guest)));
        }

        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(2048 + 9), Private(9, asid: 2)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(2560), Private(2560, Guest, huge: true)));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(2560)));
        ReturnToShared(rmp, 2560); // a 2M entry can only be rebuilt over a region with no assigned 4K entry
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(2560), Private(2560, Guest, huge: true)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(3072), Private(3072, Guest, huge: true)));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(3072)));
        ReturnToShared(rmp, 3072);

        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(9 * 512), Private(0, asid: 2, huge: true)));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(9 * 512)));

        var map = HostMemoryMap.Capture(rmp, allocator, Guest);

        HostRegionState[] expected =
        [
            HostRegionState.Private2M, HostRegionState.Smashed, HostRegionState.Private4K, HostRegionState.Shared,
            HostRegionState.Shared, HostRegionState.Private2M, HostRegionState.Shared, HostRegionState.Free,
            HostRegionState.Free, HostRegionState.Shared,
        ];
        Assert.Equal(expected, map.Regions.ToArray());
        Assert.Equal(10UL * 512, map.HostPages);
        Assert.Equal(2, map.Count(HostRegionState.Free));
        Assert.Equal(4, map.Count(HostRegionState.Shared));
        Assert.Equal(2, map.Count(HostRegionState.Private2M));
        Assert.Equal(1, map.Count(HostRegionState.Private4K));
        Assert.Equal(1, map.Count(HostRegionState.Smashed));
        Assert.True(rmp.IsSmashed(6));
        Assert.False(rmp.IsSmashed(5));
        Assert.Equal(3, rmp.SmashedRegions); // 1, 6 and 9
    }

    private static void ReturnToShared(RmpTable rmp, ulong first)
    {
        for (ulong p = first; p < first + 512; p++)
        {
            Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(p), Shared()));
        }
    }

    [Fact]
    public void A_2M_update_to_shared_ends_the_smashed_mark()
    {
        using var rmp = Create("compact");
        Assert.False(rmp.IsSmashed(1));
        rmp.RmpUpdate(Pfn(512), Private(0, Guest, huge: true));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(512)));
        Assert.True(rmp.IsSmashed(1));
        Assert.Equal(PsmashResult.FailInput, rmp.Psmash(Pfn(512))); // a failed PSMASH changes nothing
        Assert.True(rmp.IsSmashed(1));
        ReturnToShared(rmp, 512);
        Assert.True(rmp.IsSmashed(1)); // 4K updates keep the mark
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(512), Shared(huge: true)));
        Assert.False(rmp.IsSmashed(1));
        Assert.Equal(0, rmp.SmashedRegions);
    }

    [Fact]
    public void A_partial_last_region_and_pages_outside_the_allocator_are_handled()
    {
        // 1.5 regions of RMP; the allocator manages only the first region's pages.
        using var rmp = Create("compact", 768);
        using var allocator = new BuddyAllocator(Pfn(0), 512, maxOrder: 9);
        var map = HostMemoryMap.Capture(rmp, allocator, Guest);
        Assert.Equal([HostRegionState.Free, HostRegionState.Shared], map.Regions.ToArray());

        using var whole = new BuddyAllocator(Pfn(0), 768, maxOrder: 9);
        Assert.Equal([HostRegionState.Free, HostRegionState.Free], HostMemoryMap.Capture(rmp, whole, Guest).Regions.ToArray());
        whole.Claim(Pfn(700), 0);
        Assert.Equal([HostRegionState.Free, HostRegionState.Shared], HostMemoryMap.Capture(rmp, whole, Guest).Regions.ToArray());
    }

    [Fact]
    public void Span_free_checks_every_page_whatever_the_alignment()
    {
        using var allocator = new BuddyAllocator(Pfn(3), 1000, maxOrder: 4);
        Assert.True(allocator.IsSpanFree(Pfn(3), 1000));
        Assert.False(allocator.IsSpanFree(Pfn(2), 10));     // starts before the range
        Assert.False(allocator.IsSpanFree(Pfn(900), 200));  // runs past it
        Assert.True(allocator.IsSpanFree(Pfn(500), 0));
        allocator.Claim(Pfn(777), 0);
        Assert.False(allocator.IsSpanFree(Pfn(3), 1000));
        Assert.False(allocator.IsSpanFree(Pfn(777), 1));
        Assert.True(allocator.IsSpanFree(Pfn(3), 774));
        Assert.True(allocator.IsSpanFree(Pfn(778), 225));
        allocator.Free(Pfn(777), 0);
        Assert.True(allocator.IsSpanFree(Pfn(3), 1000));
    }

    [Fact]
    public void From_regions_checks_the_count_and_counts_states()
    {
        var map = HostMemoryMap.FromRegions(1025, [HostRegionState.Smashed, HostRegionState.Free, HostRegionState.Smashed]);
        Assert.Equal(2, map.Count(HostRegionState.Smashed));
        Assert.Equal(0, map.Count(HostRegionState.Shared));
        Assert.Throws<ArgumentException>(() => HostMemoryMap.FromRegions(1024, [HostRegionState.Free]));
        Assert.Throws<ArgumentException>(() => HostMemoryMap.FromRegions(512, [(HostRegionState)9]));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Count((HostRegionState)5));
    }

    public static TheoryData<string, string, int> Runs()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var scenario in ScenarioCatalog.All)
        {
            foreach (string policy in Policies.PolicyCatalog.Names)
            {
                foreach (int order in new[] { 0, 9, 18 })
                {
                    data.Add(scenario.Name, policy, order);
                }
            }
        }

        return data;
    }

    /// <summary>
    /// On every scenario run the map agrees with the counters: with one guest, each private 2M region is one of its
    /// 2M entries; smashed regions are at most the PSMASHes; private memory at 4K needs at least one region per 512
    /// 4K entries; and the regions not free hold at least the guest's folios.
    /// </summary>
    [Theory]
    [MemberData(nameof(Runs))]
    public void The_scenarios_maps_agree_with_their_counters(string scenario, string policy, int order)
    {
        var result = ScenarioCatalog.Run(scenario, policy, order);
        var map = Assert.IsType<HostMemoryMap>(result.Map);
        Assert.Equal(map.HostPages / 512, (ulong)map.Regions.Length);
        Assert.Equal(result["rmp_2m_entries"], map.Count(HostRegionState.Private2M));
        Assert.True(map.Count(HostRegionState.Smashed) <= result["psmash"]);
        long at4K = map.Count(HostRegionState.Smashed) + map.Count(HostRegionState.Private4K);
        Assert.True(at4K * 512 >= result["rmp_4k_entries"]);
        Assert.Equal(at4K == 0, result["rmp_4k_entries"] == 0);
        long folioBytes = (result["folios_4k"] << 12) + (result["folios_2m"] << 21) + (result["folios_1g"] << 30);
        Assert.True((map.Regions.Length - map.Count(HostRegionState.Free)) << 21 >= folioBytes);
    }

    /// <summary>
    /// share-4k-keep by hand (docs/policies.md): with 2M folios every policy ends with the chunk's folio as a 2M entry
    /// that the shared page's 4K PVALIDATE makes KVM PSMASH, and the region keeps private 4K entries: exactly one
    /// smashed region, none private at 2M or (unsmashed) 4K. With 4K folios nothing is ever smashed.
    /// </summary>
    [Theory]
    [InlineData("fault-hook")]
    [InlineData("alloc-blind")]
    [InlineData("first-use")]
    [InlineData("every-get-pfn")]
    public void Sharing_one_page_of_a_2M_folio_smashes_exactly_its_region(string policy)
    {
        var map = ScenarioCatalog.Run("share-4k-keep", policy, 9).Map!;
        Assert.Equal(1, map.Count(HostRegionState.Smashed));
        Assert.Equal(0, map.Count(HostRegionState.Private2M));
        Assert.Equal(0, map.Count(HostRegionState.Private4K));
        var keep4K = ScenarioCatalog.Run("share-4k-keep", policy, 0).Map!;
        Assert.Equal(0, keep4K.Count(HostRegionState.Smashed));
        Assert.True(keep4K.Count(HostRegionState.Private4K) >= 1);
    }
}
