using FastRmp.Interop.Hardware;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>RMPUPDATE: every result code with the condition that triggers it (APM vol. 3 RMPUPDATE; kernel-domain.md 4.4).</summary>
public sealed class RmpUpdateTests
{
    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_4K_update_assigns_the_page_with_validated_clear(string store)
    {
        using var rmp = Create(store);
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(5), Private(0x1234, asid: 7)));
        var e = rmp.Read(Pfn(5));
        Assert.True(e.assigned);
        Assert.False(e.pagesize);
        Assert.Equal(0x1234UL, e.gpa);
        Assert.Equal(7u, e.asid);
        Assert.False(e.validated);
        Assert.Equal(default, rmp.Read(Pfn(4)));
        Assert.Equal(1, rmp.Counters.RmpUpdate4K);
        Assert.Equal(1, rmp.Counters.RmpUpdateToPrivate);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_2M_update_assigns_512_entries_with_contiguous_gpas(string store)
    {
        using var rmp = Create(store);
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(1024), Private(0x200, asid: 3, huge: true)));
        var head = rmp.Read(Pfn(1024));
        Assert.True(head.assigned && head.pagesize);
        var last = rmp.Read(Pfn(1024 + 511));
        Assert.True(last.assigned);
        Assert.False(last.pagesize);
        Assert.Equal(0x200UL + 511, last.gpa);
        Assert.Equal(3u, last.asid);
        Assert.False(rmp.Read(Pfn(1536)).assigned);
        Assert.Equal(1, rmp.Counters.RmpUpdate2M);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void An_update_clears_validated(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(9), Private(9, asid: 1));
        Assert.Equal(PvalidateResult.Success, rmp.Pvalidate(Pfn(9), 1, Gfn(9), RmpPageSize.Size4K, true, out _));
        Assert.True(rmp.Read(Pfn(9)).validated);
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(9), Private(9, asid: 1)));
        Assert.False(rmp.Read(Pfn(9)).validated);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Returning_to_shared_zeroes_the_entries(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(512), Private(0, asid: 1, huge: true));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(512), Shared(huge: true)));
        for (ulong p = 512; p < 1024; p += 97)
        {
            Assert.Equal(default, rmp.Read(Pfn(p)));
        }

        rmp.RmpUpdate(Pfn(3), Private(3, asid: 1));
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(3), Shared()));
        Assert.Equal(default, rmp.Read(Pfn(3)));
        Assert.Equal(2, rmp.Counters.RmpUpdateToShared);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Fail_input_for_misaligned_2M_or_bad_fields(string store)
    {
        using var rmp = Create(store);
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(513), Private(0, 1, huge: true))); // pfn not 2M-aligned
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(512), Private(1, 1, huge: true))); // gpa not 2M-aligned
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(1), Private(1, 1024))); // asid has 10 bits
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(1), Private(1, 1) with { gpa = 0x1001 }));
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(1), Private(1, 1) with { rsvd = 1 }));
        Assert.Equal(RmpUpdateResult.FailInput, rmp.RmpUpdate(Pfn(1), Private(1, 1) with { assigned = 2 }));
        using var odd = Create(store, 1000);
        Assert.Equal(RmpUpdateResult.FailInput, odd.RmpUpdate(Pfn(512), Private(0, 1, huge: true))); // runs past the table
        Assert.Equal(default, rmp.Read(Pfn(1)));
        Assert.Equal(6, rmp.Counters.RmpUpdateFailed);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Fail_permission_on_an_immutable_entry(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(700), Private(700, asid: 0, immutable: true));
        Assert.Equal(RmpUpdateResult.FailPermission, rmp.RmpUpdate(Pfn(700), Shared()));
        Assert.Equal(RmpUpdateResult.FailPermission, rmp.RmpUpdate(Pfn(512), Shared(huge: true)));
        Assert.True(rmp.Read(Pfn(700)).immutable);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Fail_inuse_on_a_page_the_hardware_is_using(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(40), Private(40, asid: 2));
        rmp.SetInUse(Pfn(40), true);
        Assert.Equal(RmpUpdateResult.FailInUse, rmp.RmpUpdate(Pfn(40), Shared()));
        Assert.Equal(RmpUpdateResult.FailInUse, rmp.RmpUpdate(Pfn(0), Shared(huge: true)));
        rmp.SetInUse(Pfn(40), false);
        Assert.Equal(RmpUpdateResult.Success, rmp.RmpUpdate(Pfn(40), Shared()));
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Fail_overlap_for_4K_inside_2M_and_2M_over_assigned_4K(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(512), Private(0x400, 1, huge: true));
        Assert.Equal(RmpUpdateResult.FailOverlap, rmp.RmpUpdate(Pfn(600), Shared()));
        Assert.Equal(RmpUpdateResult.FailOverlap, rmp.RmpUpdate(Pfn(512), Private(0x400, 1)));

        rmp.RmpUpdate(Pfn(1030), Private(7, 1));
        Assert.Equal(RmpUpdateResult.FailOverlap, rmp.RmpUpdate(Pfn(1024), Private(0x800, 1, huge: true)));
        Assert.Equal(RmpUpdateResult.FailOverlap, rmp.RmpUpdate(Pfn(1024), Shared(huge: true)));
        Assert.True(rmp.Read(Pfn(1030)).assigned);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void An_out_of_range_pfn_is_a_programming_error(string store)
    {
        using var rmp = Create(store, 100);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => rmp.RmpUpdate(Pfn(100), Shared()));
        Assert.Contains("0x64", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => rmp.Lookup(Pfn(ulong.MaxValue)));
    }
}
