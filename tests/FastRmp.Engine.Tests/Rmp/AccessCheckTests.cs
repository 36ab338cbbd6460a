using FastRmp.Engine.Rmp;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using static FastRmp.Engine.Tests.Rmp.RmpFixtures;

namespace FastRmp.Engine.Tests.Rmp;

/// <summary>KVM's lookup and the RMP checks of guest and host accesses (APM vol. 2 15.36; kernel-domain.md 4.3, 4.5).</summary>
public sealed class AccessCheckTests
{
    private const PageFaultErrorCode Base = PageFaultErrorCode.Present | PageFaultErrorCode.GuestFinal;

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Lookup_takes_assigned_from_the_page_and_level_from_the_2M_entry(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(3), Private(3, 1));
        rmp.RmpUpdate(Pfn(512), Private(0, 1, huge: true));
        Assert.Equal(new RmpLookup(assigned: true, huge: false), rmp.Lookup(Pfn(3)));
        Assert.Equal(new RmpLookup(assigned: false, huge: false), rmp.Lookup(Pfn(4)));
        Assert.Equal(new RmpLookup(assigned: true, huge: true), rmp.Lookup(Pfn(777)));
        Assert.Equal(PgLevel.Level2M, rmp.Lookup(Pfn(777)).Level);
        Assert.Equal(4, rmp.Counters.Lookups);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Batched_lookups_equal_single_lookups(string store)
    {
        using var rmp = Create(store, 1 << 16);
        var random = new Random(11);
        for (int i = 0; i < 2000; i++)
        {
            ulong p = (ulong)random.Next(1 << 16);
            if (random.Next(8) == 0)
            {
                rmp.RmpUpdate(Pfn(p & ~511UL), Private(p & ~511UL, 1, huge: true));
            }
            else
            {
                rmp.RmpUpdate(Pfn(p), Private(p, 1));
            }
        }

        var pfns = Enumerable.Range(0, 5000).Select(_ => (ulong)random.Next(1 << 16)).ToArray();
        var results = new RmpLookup[pfns.Length];
        rmp.Store.Lookup(pfns, results);
        for (int i = 0; i < pfns.Length; i++)
        {
            Assert.Equal(rmp.Store.Lookup(pfns[i]), results[i]);
        }

        Assert.Contains(results, r => r.Level == PgLevel.Level2M);
        Assert.Contains(results, r => r.Assigned && r.Level == PgLevel.Level4K);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_private_access_needs_the_owner_at_that_gfn(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(10), Private(0x50, 2));
        rmp.Pvalidate(Pfn(10), 2, Gfn(0x50), RmpPageSize.Size4K, true, out _);
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckGuestAccess(Pfn(10), 2, Gfn(0x50), true, true, PgLevel.Level4K, out bool nv));
        Assert.False(nv);
        var expected = Base | PageFaultErrorCode.GuestEnc | PageFaultErrorCode.Write | PageFaultErrorCode.GuestRmp;
        Assert.Equal(expected, rmp.CheckGuestAccess(Pfn(10), 3, Gfn(0x50), true, true, PgLevel.Level4K, out _));
        Assert.Equal(expected, rmp.CheckGuestAccess(Pfn(10), 2, Gfn(0x51), true, true, PgLevel.Level4K, out _));
        Assert.Equal(expected, rmp.CheckGuestAccess(Pfn(11), 2, Gfn(0x51), true, true, PgLevel.Level4K, out _));
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void Npt_and_rmp_page_sizes_must_agree_for_private_accesses_and_a_mismatch_is_rmp_without_sizem(string store)
    {
        // Roth, 2023-08-25 ("(and not #NPF+RMP+SIZEM as I incorrectly stated above)") and APM vol. 2 15.36.10: a
        // guest access whose NPT size differs from the RMP entry's raises #NPF with the RMP bit; SIZEM belongs to
        // PVALIDATE/RMPADJUST. Expected: P | GUEST_FINAL | ENC | RMP, bit 35 clear.
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(512), Private(0x200, 2, huge: true));
        rmp.RmpUpdate(Pfn(1024), Private(0x400, 2));
        var mismatch = Base | PageFaultErrorCode.GuestEnc | PageFaultErrorCode.GuestRmp;
        Assert.Equal(mismatch, rmp.CheckGuestAccess(Pfn(600), 2, Gfn(0x258), true, false, PgLevel.Level4K, out _)); // 4K NPT, 2M RMP
        Assert.Equal(mismatch, rmp.CheckGuestAccess(Pfn(1024), 2, Gfn(0x400), true, false, PgLevel.Level2M, out _)); // 2M NPT, 4K RMP
        Assert.Equal(0UL, (ulong)rmp.CheckGuestAccess(Pfn(600), 2, Gfn(0x258), true, false, PgLevel.Level4K, out _) & (1UL << 35));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckGuestAccess(Pfn(600), 2, Gfn(0x258), true, false, PgLevel.Level2M, out bool nv));
        Assert.True(nv); // never validated: #VC 0x404 in the guest, not an #NPF
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckGuestAccess(Pfn(600), 2, Gfn(0x258), true, false, PgLevel.Level1G, out _));
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_shared_access_faults_only_on_an_assigned_page(string store)
    {
        using var rmp = Create(store);
        rmp.RmpUpdate(Pfn(10), Private(0x50, 2));
        Assert.Equal(Base | PageFaultErrorCode.GuestRmp, rmp.CheckGuestAccess(Pfn(10), 2, Gfn(0x50), false, false, PgLevel.Level4K, out _));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckGuestAccess(Pfn(11), 2, Gfn(0x51), false, true, PgLevel.Level2M, out _));
        Assert.Equal(1, rmp.Counters.NestedPageFaults);
    }

    [Theory]
    [MemberData(nameof(Stores), MemberType = typeof(RmpFixtures))]
    public void A_host_write_faults_when_its_mapping_covers_an_assigned_page(string store)
    {
        using var rmp = Create(store, 1 << 19);
        rmp.RmpUpdate(Pfn(700), Private(1, 1));
        var fault = PageFaultErrorCode.Present | PageFaultErrorCode.Write | PageFaultErrorCode.GuestRmp;
        Assert.Equal(fault, rmp.CheckHostWrite(Pfn(700), PgLevel.Level4K));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(701), PgLevel.Level4K));
        Assert.Equal(fault, rmp.CheckHostWrite(Pfn(1000), PgLevel.Level2M)); // the 2M direct-map page covers pfn 700
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(1024), PgLevel.Level2M));
        Assert.Equal(fault, rmp.CheckHostWrite(Pfn(200_000), PgLevel.Level1G));
        Assert.Equal(PageFaultErrorCode.None, rmp.CheckHostWrite(Pfn(300_000), PgLevel.Level1G));
        Assert.Equal(3, rmp.Counters.HostFaults);
    }
}
