using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>PSMASH, PVALIDATE and RMPADJUST: every result code (kernel-domain.md 4.4-4.5).</summary>
public sealed class GuestInstructionTests
{
    private const PageFaultErrorCode SizeFault = PageFaultErrorCode.GuestRmp | PageFaultErrorCode.GuestSizeM;

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Psmash_splits_a_2M_entry_keeping_validated_and_contiguous_gpas(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(1024), Private(0x600, 4, huge: true));
        rmp.Pvalidate(Pfn(1024), 4, Gfn(0x600), RmpPageSize.Size2M, true, out _);
        Assert.Equal(PsmashResult.Success, rmp.Psmash(Pfn(1024)));
        Assert.Equal(PgLevel.Level4K, rmp.Lookup(Pfn(1100)).Level);
        var e = rmp.Read(Pfn(1100));
        Assert.True(e.assigned && e.validated);
        Assert.Equal(0x600UL + 76, e.gpa);
        Assert.False(rmp.Read(Pfn(1024)).pagesize);
        Assert.Equal(1, rmp.Counters.Psmash);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Psmash_fails_input_permission_and_inuse(string store)
    {
        using var rmp = Create(store);
        Assert.Equal(PsmashResult.FailInput, rmp.Psmash(Pfn(512))); // not a 2M entry
        rmp.RmpUpdate(Pfn(512), Private(0, 1, huge: true));
        Assert.Equal(PsmashResult.FailInput, rmp.Psmash(Pfn(513))); // not 2M-aligned
        rmp.SetInUse(Pfn(600), true);
        Assert.Equal(PsmashResult.FailInUse, rmp.Psmash(Pfn(512)));
        rmp.RmpUpdate(Pfn(1536), Private(0x400, 0, huge: true, immutable: true));
        Assert.Equal(PsmashResult.FailPermission, rmp.Psmash(Pfn(1536)));
        Assert.True(rmp.Read(Pfn(512)).pagesize);
        Assert.Equal(4, rmp.Counters.PsmashFailed);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Pvalidate_sets_and_rescinds_and_reports_no_update(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(20), Private(0x99, 5));
        Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(20), 5, Gfn(0x99), RmpPageSize.Size4K, true, out var npf));
        Assert.Equal(PageFaultErrorCode.None, npf);
        Assert.Equal(PvalidateResult.FailNoUpdate, rmp.Pvalidate(Pfn(20), 5, Gfn(0x99), RmpPageSize.Size4K, true, out _));
        Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(20), 5, Gfn(0x99), RmpPageSize.Size4K, false, out _));
        Assert.False(rmp.Read(Pfn(20)).validated);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Pvalidate_2M_validates_all_512_pages(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(2048), Private(0xA00, 2, huge: true));
        Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(2048), 2, Gfn(0xA00), RmpPageSize.Size2M, true, out _));
        Assert.True(rmp.Read(Pfn(2048 + 300)).validated);
        Assert.True(rmp.Read(Pfn(2048)).validated);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Pvalidate_fails_input_permission_and_size_mismatch(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(512), Private(0x200, 6, huge: true));
        rmp.RmpUpdate(Pfn(1030), Private(0x406, 6));
        rmp.RmpUpdate(Pfn(1031), Private(0x407, 0, immutable: true));
        Assert.Equal(PvalidateResult.FailInput, rmp.Pvalidate(Pfn(512), 6, Gfn(0x201), RmpPageSize.Size2M, true, out _));
        Assert.Equal(PvalidateResult.FailPermission, rmp.Pvalidate(Pfn(1030), 7, Gfn(0x406), RmpPageSize.Size4K, true, out _)); // ASID
        Assert.Equal(PvalidateResult.FailPermission, rmp.Pvalidate(Pfn(1030), 6, Gfn(0x405), RmpPageSize.Size4K, true, out _)); // gpa
        Assert.Equal(PvalidateResult.FailPermission, rmp.Pvalidate(Pfn(1029), 6, Gfn(0x405), RmpPageSize.Size4K, true, out _)); // shared
        Assert.Equal(PvalidateResult.FailPermission, rmp.Pvalidate(Pfn(1031), 0, Gfn(0x407), RmpPageSize.Size4K, true, out _)); // immutable
        rmp.RmpUpdate(Pfn(1024), Private(0x400, 6));
        Assert.Equal(PvalidateResult.FailSizeMismatch, rmp.Pvalidate(Pfn(1024), 6, Gfn(0x400), RmpPageSize.Size2M, true, out _));
        rmp.RmpUpdate(Pfn(1033), Private(0x600, 6)); // a 4K-backed page: aligned gfn, arbitrary pfn
        Assert.Equal(PvalidateResult.FailSizeMismatch, rmp.Pvalidate(Pfn(1033), 6, Gfn(0x600), RmpPageSize.Size2M, true, out _));
        Assert.Equal(0, rmp.Counters.Pvalidate);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_4K_pvalidate_inside_a_2M_entry_raises_npf_sizem(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(512), Private(0x200, 6, huge: true));
        Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(513), 6, Gfn(0x201), RmpPageSize.Size4K, true, out var npf));
        Assert.Equal(SizeFault, npf);
        Assert.False(rmp.Read(Pfn(513)).validated);
        Assert.Equal(1, rmp.Counters.NestedPageFaults);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Rmpadjust_sets_a_higher_vmpl_permissions_and_vmsa(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(30), Private(30, 3));
        rmp.Pvalidate(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, true, out _);
        Assert.Equal(RmpAdjustResult.Success, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 0, 1, 0x1F, vmsa: true, out _));
        Assert.Equal(RmpAdjustResult.Success, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 0, 3, 0x03, vmsa: false, out _));
        var e = rmp.Read(Pfn(30));
        Assert.Equal(0x0300_1F00UL, e.hi);
        Assert.True(e.vmsa);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Rmpadjust_fails_input_permission_and_size_mismatch(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(30), Private(30, 3));
        Assert.Equal(RmpAdjustResult.FailPermission, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 0, 1, 1, false, out _)); // not validated
        rmp.Pvalidate(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, true, out _);
        Assert.Equal(RmpAdjustResult.FailPermission, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 1, 1, 1, false, out _)); // not higher
        Assert.Equal(RmpAdjustResult.FailInput, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 0, 4, 1, false, out _));
        Assert.Equal(RmpAdjustResult.FailInput, rmp.RmpAdjust(Pfn(30), 3, Gfn(30), RmpPageSize.Size4K, 0, 1, 0x20, false, out _));
        Assert.Equal(RmpAdjustResult.FailInput, rmp.RmpAdjust(Pfn(0), 3, Gfn(0), RmpPageSize.Size2M, 0, 1, 1, true, out _));
        rmp.RmpUpdate(Pfn(0), Private(0, 3));
        rmp.Pvalidate(Pfn(0), 3, Gfn(0), RmpPageSize.Size4K, true, out _);
        Assert.Equal(RmpAdjustResult.FailSizeMismatch, rmp.RmpAdjust(Pfn(0), 3, Gfn(0), RmpPageSize.Size2M, 0, 1, 1, false, out _));
        rmp.RmpUpdate(Pfn(512), Private(0x200, 3, huge: true));
        rmp.Pvalidate(Pfn(512), 3, Gfn(0x200), RmpPageSize.Size2M, true, out _);
        Assert.Equal(RmpAdjustResult.Success, rmp.RmpAdjust(Pfn(520), 3, Gfn(0x208), RmpPageSize.Size4K, 0, 1, 1, false, out var npf));
        Assert.Equal(SizeFault, npf);
        Assert.Equal(0UL, rmp.Read(Pfn(30)).hi);
    }
}
