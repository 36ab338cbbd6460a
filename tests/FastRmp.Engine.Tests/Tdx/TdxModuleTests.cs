using FastRmp.Engine.Tdx;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Tests.Tdx;

/// <summary>
/// The TDX module's Secure EPT rules and the PAMT's sizes, with expected values worked out by hand from the sources the
/// model cites: arch/x86/kvm/vmx/tdx.c and arch/x86/virt/vmx/tdx/tdx.c at 6.16 (SEAMCALL order, <c>tdmr_get_pamt_sz</c>),
/// the Dynamic PAMT series (<c>tdmr_get_pamt_bitmap_sz</c>, <c>tdx_pamt_get/put</c>), the huge-page series RFC v2
/// (DEMOTE after BLOCK and TRACK; ACCEPT size rules) and <c>try_accept_one</c>.
/// </summary>
public sealed class TdxModuleTests
{
    private static readonly gfn_t Gfn = new(512); // the 2 MiB chunk at GPA 2 MiB

    [Fact]
    public void Static_pamt_of_4_GiB_is_16_bytes_per_page_per_level_page_aligned()
    {
        // tdmr_get_pamt_sz: entries = size >> shift, times 16 bytes, PAGE_ALIGN. 4 GiB: 2^20 * 16 = 16 MiB (4K level),
        // 2048 * 16 = 32 KiB (2M level), 4 * 16 = 64 bytes -> 4 KiB (1G level).
        var pamt = new TdxPamt(1UL << 20, dynamic: false);
        Assert.Equal(16UL << 20, pamt.Static4KBytes);
        Assert.Equal(32UL << 10, pamt.Static2MBytes);
        Assert.Equal(4096UL, pamt.Static1GBytes);
        Assert.Equal(16_814_080L, pamt.Bytes);
    }

    [Fact]
    public void Dynamic_pamt_replaces_the_4k_level_with_a_bitmap_and_adds_a_page_pair_per_referenced_2m_range()
    {
        // tdmr_get_pamt_bitmap_sz at 1 bit per page: 2^20 / 8 = 128 KiB; refcounts: 2048 ranges * 4 bytes = 8 KiB;
        // tdx_dpamt_entry_pages = 16 * 512 / 4096 = 2 pages per range.
        var pamt = new TdxPamt(1UL << 20, dynamic: true);
        Assert.Equal(128UL << 10, pamt.Static4KBytes);
        Assert.Equal(8192L, pamt.RefcountBytes);
        Assert.Equal(2, pamt.PagesPerRange);
        long idle = (128 << 10) + (32 << 10) + 4096 + 8192;
        Assert.Equal(idle, pamt.Bytes);

        pamt.Get(new kvm_pfn_t(0));
        pamt.Get(new kvm_pfn_t(511)); // same 2 MiB range: a reference, no PAMT.ADD
        pamt.Get(new kvm_pfn_t(512)); // the next range
        Assert.Equal(2, pamt.PamtAdds);
        Assert.Equal(idle + (2 * 8192), pamt.Bytes);

        pamt.Put(new kvm_pfn_t(0));
        Assert.Equal(0, pamt.PamtRemoves); // pfn 511 still holds range 0
        pamt.Put(new kvm_pfn_t(511));
        pamt.Put(new kvm_pfn_t(512));
        Assert.Equal(2, pamt.PamtRemoves);
        Assert.Equal(idle, pamt.Bytes);
        Assert.Equal(idle + (2 * 8192), pamt.PeakBytes);
        Assert.Throws<InvalidOperationException>(() => pamt.Put(new kvm_pfn_t(0)));
    }

    [Fact]
    public void Aug_needs_the_tables_above_it_and_a_free_entry()
    {
        var module = Finalized();
        Assert.Equal(TdxStatus.EptWalkFailed, module.PageAug(Gfn, PgLevel.Level4K, new kvm_pfn_t(7)));
        Assert.Equal(TdxStatus.EptWalkFailed, module.SeptAdd(Gfn, 2, new kvm_pfn_t(1))); // no 512 GiB table yet
        Assert.Equal(TdxStatus.Success, module.SeptAdd(Gfn, 3, new kvm_pfn_t(1)));
        Assert.Equal(TdxStatus.Success, module.SeptAdd(Gfn, 2, new kvm_pfn_t(2)));
        Assert.Equal(TdxStatus.EptEntryNotFree, module.SeptAdd(Gfn, 2, new kvm_pfn_t(3)));
        Assert.Equal(TdxStatus.EptWalkFailed, module.PageAug(Gfn, PgLevel.Level4K, new kvm_pfn_t(7))); // no 4K table
        Assert.Equal(TdxStatus.Success, module.PageAug(Gfn, PgLevel.Level2M, new kvm_pfn_t(1024)));
        Assert.Equal(TdxStatus.EptEntryNotFree, module.PageAug(Gfn, PgLevel.Level2M, new kvm_pfn_t(1024)));
        Assert.Equal(TdxStatus.EptEntryNotFree, module.SeptAdd(Gfn, 1, new kvm_pfn_t(4))); // a 2M leaf sits there
        Assert.Equal(new SeptLeaf(PgLevel.Level2M, SeptState.Pending, Blocked: false), module.Lookup(Gfn + 100));
        Assert.Equal(2, module.SeptPages);
    }

    [Fact]
    public void Remove_needs_block_then_track_after_finalize()
    {
        var module = Finalized();
        Map4K(module, Gfn);
        Assert.Equal(TdxStatus.GpaRangeNotBlocked, module.PageRemove(Gfn, PgLevel.Level4K));
        Assert.Equal(TdxStatus.Success, module.RangeBlock(Gfn, PgLevel.Level4K));
        Assert.Equal(TdxStatus.GpaRangeAlreadyBlocked, module.RangeBlock(Gfn, PgLevel.Level4K));
        Assert.False(TdxStatus.GpaRangeAlreadyBlocked.IsError()); // a warning: bit 63 clear
        Assert.Equal(TdxStatus.TlbTrackingNotDone, module.PageRemove(Gfn, PgLevel.Level4K));
        module.Track();
        Assert.Equal(TdxStatus.Success, module.PageRemove(Gfn, PgLevel.Level4K));
        Assert.False(module.Lookup(Gfn).IsPresent);
        Assert.Equal(TdxStatus.EptEntryFree, module.RangeBlock(Gfn, PgLevel.Level4K));
    }

    [Fact]
    public void Demote_of_a_blocked_tracked_2m_leaf_gives_512_leaves_in_its_state()
    {
        var module = Finalized();
        module.SeptAdd(Gfn, 3, new kvm_pfn_t(1));
        module.SeptAdd(Gfn, 2, new kvm_pfn_t(2));
        module.PageAug(Gfn, PgLevel.Level2M, new kvm_pfn_t(1024));
        Assert.Equal(AcceptResult.Accepted, module.Accept(Gfn, PgLevel.Level2M));
        Assert.Equal(TdxStatus.GpaRangeNotBlocked, module.PageDemote(Gfn, new kvm_pfn_t(9)));
        module.RangeBlock(Gfn, PgLevel.Level2M);
        Assert.Equal(TdxStatus.TlbTrackingNotDone, module.PageDemote(Gfn, new kvm_pfn_t(9)));
        module.Track();
        Assert.Equal(TdxStatus.Success, module.PageDemote(Gfn, new kvm_pfn_t(9)));
        Assert.Equal(new SeptLeaf(PgLevel.Level4K, SeptState.Mapped, Blocked: false), module.Lookup(Gfn + 511));
        Assert.True(module.HasPageTable(Gfn));
        Assert.Equal(3, module.SeptPages);
    }

    [Fact]
    public void Accept_follows_the_leaf_size()
    {
        var module = Finalized();
        // Nothing mapped in the 1 GiB region: every size exits to KVM.
        Assert.Equal(AcceptResult.EptViolation, module.Accept(Gfn, PgLevel.Level1G));
        Map4K(module, Gfn);
        // A 4K mapping: a 1G or 2M accept meets a table at its level (TDX_PAGE_SIZE_MISMATCH), a 4K accept works once.
        Assert.Equal(AcceptResult.SizeMismatch, module.Accept(new gfn_t(0), PgLevel.Level1G));
        Assert.Equal(AcceptResult.SizeMismatch, module.Accept(Gfn, PgLevel.Level2M));
        Assert.Equal(AcceptResult.EptViolation, module.Accept(Gfn + 1, PgLevel.Level4K)); // the next page is not mapped
        Assert.Equal(AcceptResult.Accepted, module.Accept(Gfn, PgLevel.Level4K));
        Assert.Equal(AcceptResult.AlreadyAccepted, module.Accept(Gfn, PgLevel.Level4K));

        // A pending 2M leaf accepted at 4K: an EPT violation for KVM to split (huge-page series, open 1).
        var g = new gfn_t(1024);
        module.PageAug(g, PgLevel.Level2M, new kvm_pfn_t(4096));
        Assert.Equal(AcceptResult.EptViolation, module.Accept(g + 3, PgLevel.Level4K));
        Assert.Equal(AcceptResult.Accepted, module.Accept(g, PgLevel.Level2M));
        Assert.Equal(1, module.Counters.Accepted2M);
        Assert.Equal(1, module.Counters.Accepted4K);
        Assert.Equal(3, module.Counters.AcceptEptViolations);
        Assert.Equal(2, module.Counters.AcceptSizeMismatch);
    }

    [Fact]
    public void Page_add_only_while_the_td_is_built_and_removal_then_needs_no_track()
    {
        var module = new TdxModule(new TdxPamt(1UL << 20, dynamic: false));
        module.SeptAdd(Gfn, 3, new kvm_pfn_t(1));
        module.SeptAdd(Gfn, 2, new kvm_pfn_t(2));
        module.SeptAdd(Gfn, 1, new kvm_pfn_t(3));
        Assert.Equal(TdxStatus.Success, module.PageAdd(Gfn, new kvm_pfn_t(7)));
        Assert.Equal(SeptState.Mapped, module.Lookup(Gfn).State); // added pages need no acceptance
        module.RangeBlock(Gfn, PgLevel.Level4K);
        Assert.Equal(TdxStatus.Success, module.PageRemove(Gfn, PgLevel.Level4K)); // tdx_track skips TRACK before finalize
        module.FinalizeBuild();
        Assert.Throws<InvalidOperationException>(() => module.PageAdd(Gfn, new kvm_pfn_t(7)));
    }

    private static TdxModule Finalized()
    {
        var module = new TdxModule(new TdxPamt(1UL << 20, dynamic: false));
        module.FinalizeBuild();
        return module;
    }

    private static void Map4K(TdxModule module, gfn_t gfn)
    {
        if (!module.CanLinkBelow(gfn, 3))
        {
            module.SeptAdd(gfn, 3, new kvm_pfn_t(1));
        }

        if (!module.CanLinkBelow(gfn, 2))
        {
            module.SeptAdd(gfn, 2, new kvm_pfn_t(2));
        }

        module.SeptAdd(gfn, 1, new kvm_pfn_t(3));
        Assert.Equal(TdxStatus.Success, module.PageAug(gfn, PgLevel.Level4K, new kvm_pfn_t(8)));
    }
}
