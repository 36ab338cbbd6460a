using FastRmp.Engine.Allocation;
using FastRmp.Engine.Rmp;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>
/// The RMPOPT summary alone, over an RMP table: regions, the pass, what turns a region off and what does not, and
/// re-optimisation. Expected values are derived by hand from the rules docs/rmpopt.md takes from the RMPOPT series
/// (Kalra, 2026-02-17: an RMPUPDATE that assigns clears its region's bit; v9 5/6: splits clear it; v10 6/6: a pass
/// after teardown re-optimises regions without assigned pages; v4 cover letter: up to 2 TiB).
/// </summary>
public sealed class RmpOptSummaryTests
{
    private const ulong Gib = 1UL << 18; // pages per region

    [Fact]
    public void A_host_is_cut_into_1G_regions_and_the_pass_at_start_optimises_them_all()
    {
        // 4 GiB + one page: 5 regions (the last holds one page); a fresh table has no assigned entry.
        using var rmp = RmpTable.CreateCompact((4 * Gib) + 1);
        var opt = rmp.EnableRmpOpt();
        Assert.Same(opt, rmp.RmpOpt);
        Assert.Equal(5UL, opt.Regions);
        Assert.Equal(5UL, opt.CoveredRegions);
        Assert.Equal(5, opt.Counters.RegionsOptimized);
        Assert.Equal(1, opt.Counters.Passes);
        Assert.Equal(5, opt.OptimizedRegions);
        Assert.True(opt.IsOptimized(4));
        Assert.False(opt.IsOptimized(5)); // past the host
        Assert.Throws<InvalidOperationException>(() => rmp.EnableRmpOpt());
    }

    [Fact]
    public void Only_the_first_2_TiB_are_covered()
    {
        // 2 TiB + 1 GiB: 2049 regions, of which RMPOPT covers 2048 (2 TiB / 1 GiB); region 2048 is never optimised,
        // so a host write there is a check made.
        using var rmp = RmpTable.CreateCompact(2049 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(2049UL, opt.Regions);
        Assert.Equal(2048UL, opt.CoveredRegions);
        Assert.Equal(2048, opt.Counters.RegionsOptimized);
        Assert.False(opt.IsOptimized(2048));
        opt.HostWrite(Pfn(2048 * Gib), 3);
        opt.HostWrite(Pfn(2047 * Gib), 2);
        Assert.Equal(3, opt.Counters.HostWritesChecked);
        Assert.Equal(2, opt.Counters.HostWritesSkipped);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_4K_or_2M_conversion_to_private_turns_its_region_off_once(string store)
    {
        using var rmp = Create(store, 4 * Gib);
        var opt = rmp.EnableRmpOpt();

        // Region 1: two 4K conversions; only the first turns it off. Region 2: one 2M conversion.
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib + 7), Private(7, 1)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib + 8), Private(8, 1)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn((2 * Gib) + 512), Private(512, 1, huge: true)));
        Assert.Equal(2, opt.Counters.RegionsDisabled);
        Assert.True(opt.IsOptimized(0));
        Assert.False(opt.IsOptimized(1));
        Assert.False(opt.IsOptimized(2));
        Assert.True(opt.IsOptimized(3));

        // A failed RMPUPDATE changes nothing: a 4K update inside the 2M entry of region 2 overlaps.
        Assert.Equal(RmpUpdateResult.FailOverlap, rmp.RmpUpdate(Pfn((2 * Gib) + 513), Private(513, 1)));
        Assert.Equal(2, opt.Counters.RegionsDisabled);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_conversion_to_shared_does_not_turn_a_region_off(string store)
    {
        // Region 3 is optimised; RMPUPDATE to shared of a hypervisor-owned page there (4K and 2M) succeeds and
        // assigns nothing, so the bit stays (FastRmp's reading of "RMPUPDATE that marks pages assigned").
        using var rmp = Create(store, 4 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn((3 * Gib) + 5), Shared()));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn((3 * Gib) + 1024), Shared(huge: true)));
        Assert.True(opt.IsOptimized(3));
        Assert.Equal(0, opt.Counters.RegionsDisabled);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_psmash_leaves_its_region_off(string store)
    {
        // PSMASH needs an assigned 2M entry, whose RMPUPDATE already turned the region off (1 disabled): the split
        // keeps it off and, the bit being clear, is not counted again. A later pass cannot re-optimise it while the
        // smashed entries stay assigned.
        using var rmp = Create(store, 2 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib), Private(0, 1, huge: true)));
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(Gib)));
        Assert.False(opt.IsOptimized(1));
        Assert.Equal(1, opt.Counters.RegionsDisabled);
        Assert.Equal(0, opt.Pass(rmp, afterTeardown: true));
        Assert.False(opt.IsOptimized(1));
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_pass_after_teardown_re_enables_regions_without_assigned_pages(string store)
    {
        using var rmp = Create(store, 3 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(10), Private(10, 1)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib + 10), Private(11, 1)));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib - 512), Private(512, 1, huge: true)));

        // Region 1's page goes back to shared; region 0 keeps its page and its 2M entry (at the end of region 0).
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(Gib + 10), Shared()));
        Assert.Equal(1, opt.Pass(rmp, afterTeardown: true));
        Assert.False(opt.IsOptimized(0));
        Assert.True(opt.IsOptimized(1));
        Assert.True(opt.IsOptimized(2));
        Assert.Equal(3, opt.Counters.RegionsOptimized);
        Assert.Equal(2, opt.Counters.RegionsDisabled);
        Assert.Equal(1, opt.Counters.RegionsReenabled);
        Assert.Equal(2, opt.Counters.Passes);
        Assert.Equal(opt.Counters.RegionsOptimized + opt.Counters.RegionsReenabled - opt.Counters.RegionsDisabled, opt.OptimizedRegions);
    }

    [Fact]
    public void A_run_conversion_counts_each_region_it_turns_off_once()
    {
        // Two runs of 4K conversions: 300 pages at the start of region 1 (one store run), and two ranges in region
        // 2 (ranges of one call) plus 2 pages in region 1 again: regions 1 and 2 turn off, 2 disabled, 304 updates.
        using var rmp = RmpTable.CreateCompact(3 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(300UL, rmp.RmpUpdateRun4K([new PfnRange(Pfn(Gib), 300)], 1, Gfn(0)));
        Assert.Equal(4UL, rmp.RmpUpdateRun4K([new PfnRange(Pfn(2 * Gib), 1), new PfnRange(Pfn((2 * Gib) + 600), 1), new PfnRange(Pfn(Gib + 400), 2)], 1, Gfn(1000)));
        Assert.Equal(2, opt.Counters.RegionsDisabled);
        Assert.Equal(304, rmp.Counters.RmpUpdateToPrivate);
        Assert.True(opt.IsOptimized(0));
    }

    [Fact]
    public void Host_writes_before_each_assignment_skip_the_check_once_per_optimised_region()
    {
        // Region 0 turned off beforehand; a zeroing run over 3 pages of region 1, 2 of region 0 and 2 more of region
        // 1: region 1's first page skips the check (its RMPUPDATE then turns region 1 off), the 6 others are checked.
        // The bits themselves are left to the RMPUPDATEs.
        using var rmp = RmpTable.CreateCompact(2 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(0), Private(0, 1)));
        opt.HostWritesEachBeforeAssign([new PfnRange(Pfn(Gib), 3), new PfnRange(Pfn(100), 2), new PfnRange(Pfn(Gib + 50), 2)]);
        Assert.Equal(1, opt.Counters.HostWritesSkipped);
        Assert.Equal(6, opt.Counters.HostWritesChecked);
        Assert.True(opt.IsOptimized(1));
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_host_write_check_is_skipped_in_an_optimised_region_with_the_same_answer(string store)
    {
        // Region 0 holds an assigned page (off), region 1 is optimised: the write to region 0's assigned page faults
        // (checked), the write to its free page passes (checked), the write to region 1 is not checked (skipped) and
        // passes, as it would checked: an optimised region holds no assigned page. A 2M write in region 1 likewise.
        using var rmp = Create(store, 2 * Gib);
        var opt = rmp.EnableRmpOpt();
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(7), Private(7, 1)));
        Assert.NotEqual(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(7), PgLevel.Level4K));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(8 * 512), PgLevel.Level4K));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(Gib + 3), PgLevel.Level4K));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(Gib + 1024), PgLevel.Level2M));
        Assert.Equal(2, opt.Counters.HostWritesChecked);
        Assert.Equal(2, opt.Counters.HostWritesSkipped);
        Assert.Equal(1, rmp.Counters.HostFaults);
    }

    [Fact]
    public void Without_the_option_a_table_has_no_summary()
    {
        using var rmp = RmpTable.CreateCompact(Gib);
        Assert.Null(rmp.RmpOpt);
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(1), Private(1, 1)));
        Assert.Equal(1, rmp.Counters.RmpUpdateToPrivate);
    }
}
