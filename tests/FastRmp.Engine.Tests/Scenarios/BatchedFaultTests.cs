using FastRmp.Engine.Guests;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// The batched fault path (<see cref="Guests.Guest.PvalidateRange"/> over runs of fresh 4 KiB folios) against the per-page
/// path it replaces: the same steps on two hosts, one with <see cref="HostOptions.BatchFreshFaults"/> off, must end in
/// the same model state (<see cref="ModelComparer"/>), and the batched host must really have batched where the
/// preconditions hold and not where they fail.
/// </summary>
public sealed class BatchedFaultTests
{
    private const ulong MiB = 1UL << 20;
    private const ulong Chunk = 2 * MiB;

    public static TheoryData<string, int, ulong> SnpBoots()
    {
        var data = new TheoryData<string, int, ulong>();
        foreach (string policy in PolicyCatalog.Names)
        {
            foreach (ulong size in new[] { 16 * MiB, 18 * MiB, 64 * MiB })
            {
                data.Add(policy, 0, size);
                data.Add(policy, 9, size);
            }

            data.Add(policy, 18, 1024 * MiB);
            data.Add(policy, 18, 2048 * MiB);
        }

        return data;
    }

    public static TheoryData<string, string, int> OtherScenarios()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var scenario in ScenarioCatalog.All.Where(s => s.Name != "snp-boot"))
        {
            foreach (string policy in PolicyCatalog.Names)
            {
                foreach (int order in new[] { 0, 9, 18 })
                {
                    data.Add(scenario.Name, policy, order);
                }
            }
        }

        return data;
    }

    public static TheoryData<string> Policies()
    {
        var data = new TheoryData<string>();
        foreach (string policy in PolicyCatalog.Names)
        {
            data.Add(policy);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SnpBoots))]
    public void Snp_boot_ends_in_the_same_state_with_and_without_batching(string policy, int order, ulong guest)
    {
        using var reference = NewHost(policy, order, guest, batch: false);
        using var batched = NewHost(policy, order, guest, batch: true);
        ScenarioCatalog.SnpBoot(reference, guest);
        ScenarioCatalog.SnpBoot(batched, guest);
        AssertSame(reference, batched);
        Assert.Equal(0, reference.Guest.BatchedPages);
        if (order == 0)
        {
            // Every accepted chunk but the payload and the mixed one: 511 of its 512 faults (the first comes from the
            // failed 2M PVALIDATE, which stays on the per-page path).
            Assert.Equal((long)((guest / Chunk) - 2) * 511, batched.Guest.BatchedPages);
        }
        else
        {
            Assert.Equal(0, batched.Guest.BatchedPages); // large folios: the 2M PVALIDATE succeeds or nothing is fresh
        }

        var a = reference.Result("snp-boot");
        var b = batched.Result("snp-boot");
        Assert.Equal(a.Counters, b.Counters);
        Assert.Equal(a.Map!.Regions.ToArray(), b.Map!.Regions.ToArray());
    }

    [Theory]
    [MemberData(nameof(OtherScenarios))]
    public void Every_other_scenario_counts_the_same_with_and_without_batching(string scenario, string policy, int order)
    {
        var a = ScenarioCatalog.Run(scenario, policy, order, null, new HostOptions(BatchFreshFaults: false));
        var b = ScenarioCatalog.Run(scenario, policy, order, null, new HostOptions(BatchFreshFaults: true));
        Assert.Equal(a.Counters, b.Counters);
        Assert.Equal(a.Map!.Regions.ToArray(), b.Map!.Regions.ToArray());
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_mixed_chunk_is_validated_page_by_page(string policy)
    {
        Twin(policy, host => host.SetPrivate(Chunk + (100 * 4096), 4096, false), host => host.Guest.ValidateChunk(Chunk), expectBatched: 0);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_shared_page_splits_the_run_around_it(string policy)
    {
        // The range operation itself: pages 0-99 and 101-511 batched; page 100's private fault exits to userspace.
        Twin(policy, host => host.SetPrivate(Chunk + (100 * 4096), 4096, false), host => Range(host), expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_populated_page_splits_the_run_around_it(string policy)
    {
        Twin(policy, host => Assert.Equal(Errno.Ok, host.Vm.Populate(new gfn_t((Chunk >> 12) + 37), 1)), host => Range(host), expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_mapped_page_splits_the_run_around_it(string policy)
    {
        Twin(policy, host => Assert.Equal(AccessResult.NotValidated, host.Guest.Access(new gpa_t(Chunk + (200 * 4096)), isPrivate: true).Result), host => Range(host), expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_poisoned_page_splits_the_run_around_it(string policy)
    {
        Twin(policy, host => host.Vm.Gmem.Get(host.Fd)!.Poison((Chunk >> 12) + 300), host => Range(host), expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_page_in_use_in_the_rmp_is_left_to_the_per_page_path(string policy)
    {
        // A fresh host hands out pfns 0, 1, 2, ... in order: the run would take pfn 300 for the chunk's page 300.
        Twin(policy, host => { host.Vm.DebugLeafChecks = false; host.Rmp.SetInUse(new kvm_pfn_t(300), true); }, host => Range(host), expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_free_page_still_assigned_in_the_rmp_is_left_to_the_per_page_path(string policy)
    {
        var foreign = new rmp_state { assigned = 1, asid = 2, gpa = 0x1234_5000 };
        Twin(
            policy,
            host =>
            {
                host.Vm.DebugLeafChecks = false; // the page a fault maps stays the other guest's: what the comparison checks
                Assert.Equal(RmpUpdateResult.Success, host.Rmp.RmpUpdate(new kvm_pfn_t(400), foreign));
            },
            host => Range(host),
            expectBatched: 511);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pages_at_gpas_below_their_offset_in_the_rmp_region_are_written_one_by_one(string policy)
    {
        // 100 pages taken first: gfns 0-411 land on pfns 100-511, which no linear template of region 0 can describe.
        Twin(
            policy,
            host =>
            {
                for (int i = 0; i < 100; i++)
                {
                    Assert.True(host.Allocator.TryAllocate(0, out _));
                }
            },
            host => Assert.Equal(512, host.Guest.PvalidateRange(new gpa_t(0), 512, true)),
            expectBatched: 512);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_memslot_edge_splits_the_run(string policy)
    {
        var options = new HostOptions(BatchFreshFaults: false);
        using var reference = new Host(policy, 0, guestBytes: 0, options);
        using var batched = new Host(policy, 0, guestBytes: 0, options with { BatchFreshFaults = true });
        foreach (var host in new[] { reference, batched })
        {
            host.CreateGuestMemfd(16 * MiB);
            ulong edge = Chunk + (256 * 4096);
            Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(0, 0, edge, 0)));
            Assert.Equal(Errno.Ok, host.Vm.SetUserMemoryRegion2(host.Region(1, edge, (16 * MiB) - edge, edge)));
            host.SetPrivate(0, 16 * MiB, true);
            Range(host);
        }

        AssertSame(reference, batched);
        Assert.Equal(512, batched.Guest.BatchedPages);
    }

    [Fact]
    public void A_guest_memfd_prepare_mode_other_than_the_policys_is_not_batched()
    {
        Twin("first-use", host => host.Vm.Gmem.PrepareMode = GmemPrepareMode.EveryGetPfn, host => Range(host), expectBatched: 0);
    }

    [Fact]
    public void An_allocator_that_follows_a_trace_is_not_batched()
    {
        using var reference = new Host("first-use", 0, 16 * MiB, new HostOptions(TracedPfns: true, BatchFreshFaults: false));
        using var batched = new Host("first-use", 0, 16 * MiB, new HostOptions(TracedPfns: true));
        Range(reference);
        Range(batched);
        AssertSame(reference, batched);
        Assert.Equal(0, batched.Guest.BatchedPages);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_raw_rmp_store_gives_the_same_state(string policy)
    {
        // The raw (hardware-layout) store has no linear templates: the run's RMPUPDATEs and PVALIDATEs go page by page.
        using var reference = new Host(policy, 0, 16 * MiB, new HostOptions(HostPages: 1UL << 18, BatchFreshFaults: false, Store: RmpStoreKind.Raw));
        using var batched = new Host(policy, 0, 16 * MiB, new HostOptions(HostPages: 1UL << 18, BatchFreshFaults: true, Store: RmpStoreKind.Raw));
        Assert.Equal(512, reference.Guest.PvalidateRange(new gpa_t(Chunk), 512, true));
        Assert.Equal(512, batched.Guest.PvalidateRange(new gpa_t(Chunk), 512, true));
        AssertSame(reference, batched);
        Assert.Equal(512, batched.Guest.BatchedPages);
    }

    private static Host NewHost(string policy, int order, ulong guest, bool batch)
        => new(policy, order, guest, options: new HostOptions(BatchFreshFaults: batch));

    private static void Range(Host host) => host.Guest.PvalidateRange(new gpa_t(Chunk), 512, true);

    // Two 16 MiB hosts with 4K folios: the same setup, the same action; the batched one must end as the other and
    // have batched the expected number of pages.
    private static void Twin(string policy, Action<Host> setup, Action<Host> act, long expectBatched)
    {
        using var reference = NewHost(policy, 0, 16 * MiB, batch: false);
        using var batched = NewHost(policy, 0, 16 * MiB, batch: true);
        foreach (var host in new[] { reference, batched })
        {
            setup(host);
            act(host);
        }

        AssertSame(reference, batched);
        Assert.Equal(expectBatched, batched.Guest.BatchedPages);
    }

    private static void AssertSame(Host reference, Host batched)
        => ModelComparer.AssertSame(reference, batched);
}
