using System.Text;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Replay;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// The RMPOPT option of a host in scenarios and replay. Expected values are derived by hand in docs/rmpopt.md from
/// the scenario's definition (<see cref="ScenarioCatalog.TeardownRmpOpt"/>) and the rules of the RMPOPT series the
/// summary models; the comments repeat the derivation.
/// </summary>
public sealed class RmpOptScenarioTests
{
    private const ulong Gib = 1UL << 30;

    [Fact]
    public void Teardown_rmpopt_with_4K_folios_has_the_derived_counts()
    {
        // Host: 2 x 2 GiB + 1 GiB = 5 GiB: 5 regions, all optimised at start. Folios come in address order from pfn 0.
        // Populate: 512 folios at pfns 0-511; each page is copied (a host write), then made private: the first write
        // skips the check (region 0 on), its RMPUPDATE turns region 0 off (disabled 1), 511 writes are checked.
        // Chunks 2 MiB..1 GiB-2 MiB: 511 x 512 = 261,632 folios at pfns 512-262,143 (the rest of region 0), each zeroed
        // before its conversion: all checked. Chunk 1 GiB: 512 folios at pfns 262,144-262,655 (region 1): the first
        // zeroing skips, its conversion turns region 1 off (disabled 2), 511 checked. Skipped 2, checked
        // 511 + 261,632 + 511 = 262,654. Teardown: 262,656 4K RMPUPDATEs to shared; the pass finds regions 0 and 1
        // free again: re-enabled 2, all 5 on at the end.
        var r = ScenarioCatalog.Run("teardown-rmpopt", "first-use", 0);
        Assert.Equal(5, r["rmpopt_regions_optimized"]);
        Assert.Equal(2, r["rmpopt_regions_disabled"]);
        Assert.Equal(2, r["rmpopt_regions_reenabled"]);
        Assert.Equal(5, r["rmpopt_regions_on"]);
        Assert.Equal(2, r["rmpopt_checks_skipped"]);
        Assert.Equal(262_654, r["rmpopt_checks_made"]);
        Assert.Equal(262_656, r["rmpupdate_to_private"]);
        Assert.Equal(262_656, r["rmpupdate_to_shared"]);
        Assert.Equal(0, r["folios_4k"]);
        Assert.Equal(0, r["rmp_4k_entries"]);
    }

    [Fact]
    public void Teardown_rmpopt_with_2M_folios_skips_the_whole_first_folio_of_region_1()
    {
        // Populate: one 2M folio at pfn 0; its 512 pages are copied and made private one by one (4K, immutable): 1
        // skipped, 511 checked, region 0 off. Chunks 2 MiB..1 GiB-2 MiB: 511 folios, each zeroed whole (512 pages)
        // and then made private at 2M: region 0 is off, 261,632 checked. Chunk 1 GiB: a 2M folio at pfn 262,144 is
        // zeroed whole while region 1 is still on (512 skipped), then its 2M RMPUPDATE turns region 1 off. Skipped
        // 1 + 512 = 513, checked 511 + 261,632 = 262,143. Teardown: the payload folio's 512 4K entries and 512 2M
        // entries go back to shared; re-enabled 2.
        var r = ScenarioCatalog.Run("teardown-rmpopt", "first-use", 9);
        Assert.Equal(5, r["rmpopt_regions_optimized"]);
        Assert.Equal(2, r["rmpopt_regions_disabled"]);
        Assert.Equal(2, r["rmpopt_regions_reenabled"]);
        Assert.Equal(513, r["rmpopt_checks_skipped"]);
        Assert.Equal(262_143, r["rmpopt_checks_made"]);
        Assert.Equal(1024, r["rmpupdate_2m"]);
        Assert.Equal(1024, r["rmpupdate_4k"]);
    }

    public static TheoryData<string, int> AllPolicies()
    {
        var data = new TheoryData<string, int>();
        foreach (string policy in Policies.PolicyCatalog.AllNames)
        {
            foreach (int order in new[] { 0, 9, 18 })
            {
                data.Add(policy, order);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Teardown_rmpopt_turns_off_and_re_enables_regions_0_and_1_under_every_policy(string policy, int order)
    {
        // Whatever the policy and folio size, the guest's memory (folios in address order from pfn 0: 1 GiB of chunks
        // plus the chunk at 1 GiB, or two 1 GiB folios) holds assigned pages in regions 0 and 1 and nowhere else
        // before the teardown, and none after it: 5 optimised, 2 disabled, 2 re-enabled, 5 on at the end, and no
        // guest entry or folio left.
        var r = ScenarioCatalog.Run("teardown-rmpopt", policy, order);
        Assert.Equal(5, r["rmpopt_regions_optimized"]);
        Assert.Equal(2, r["rmpopt_regions_disabled"]);
        Assert.Equal(2, r["rmpopt_regions_reenabled"]);
        Assert.Equal(5, r["rmpopt_regions_on"]);
        Assert.Equal(0, r["rmp_4k_entries"] + r["rmp_2m_entries"]);
        Assert.Equal(0, r["folios_4k"] + r["folios_2m"] + r["folios_1g"]);
        Assert.True(r.RmpOpt);
    }

    [Theory]
    [InlineData("first-use", 0)]
    [InlineData("every-get-pfn", 0)]
    [InlineData("first-use-1g-rework", 0)]
    [InlineData("first-use", 9)]
    public void The_batched_fault_path_counts_rmpopt_as_the_per_page_path(string policy, int order)
    {
        var a = ScenarioCatalog.Run("teardown-rmpopt", policy, order, null, new HostOptions(BatchFreshFaults: false));
        var b = ScenarioCatalog.Run("teardown-rmpopt", policy, order, null, new HostOptions(BatchFreshFaults: true));
        Assert.Equal(a.Counters, b.Counters);
    }

    [Theory]
    [InlineData("share-4k-punch", 0)]
    [InlineData("psmash-roundtrip", 9)]
    [InlineData("snp-boot", 0)]
    [InlineData("snp-boot", 18)]
    public void The_option_changes_no_decision_of_the_model_and_only_adds_its_counters(string scenario, int order)
    {
        // RMPOPT only skips checks of host writes, which never fault in the model's runs: every model counter is the
        // same; the result gains the RMPOPT counters, in catalog order, after the model's.
        var off = ScenarioCatalog.Run(scenario, "first-use", order);
        var on = ScenarioCatalog.Run(scenario, "first-use", order, null, new HostOptions(RmpOpt: true));
        Assert.Equal(off.Counters, on.Counters.Take(off.Counters.Length));
        Assert.Equal(CounterCatalog.Model.Concat(CounterCatalog.RmpOpt).Select(c => c.Name), on.Counters.Select(c => c.Key));
        Assert.Equal(CounterCatalog.Model.Select(c => c.Name), off.Counters.Select(c => c.Key));
    }

    [Fact]
    public void Snp_boot_of_16M_turns_off_only_region_0_and_skips_one_check()
    {
        // A 16 MiB guest on a 4 GiB host (4 regions): every folio lies in region 0. The payload's first copied page
        // skips the check and its conversion turns region 0 off; every later host write is checked: the payload's
        // other 511 pages and the zeroing of each other private folio (504 in the mixed chunk, whose 8 pages OVMF
        // leaves shared get no folio, and 6 x 512 in the other chunks). So checks made = folios - 1 (4,087). Nothing
        // is torn down: no region is re-enabled, 3 stay on.
        var r = ScenarioCatalog.Run("snp-boot", "first-use", 0, 16UL << 20, new HostOptions(RmpOpt: true));
        Assert.Equal(4, r["rmpopt_regions_optimized"]);
        Assert.Equal(1, r["rmpopt_regions_disabled"]);
        Assert.Equal(0, r["rmpopt_regions_reenabled"]);
        Assert.Equal(3, r["rmpopt_regions_on"]);
        Assert.Equal(1, r["rmpopt_checks_skipped"]);
        Assert.Equal(4088, r["folios_4k"]);
        Assert.Equal(4087, r["rmpopt_checks_made"]);
    }

    [Fact]
    public void Teardown_without_the_option_frees_the_guest_and_re_enables_nothing()
    {
        using var host = new Host("first-use", 0, 16UL << 20);
        Assert.Equal(Errno.Ok, host.Vm.Populate(new gfn_t(0), 512));
        Assert.Equal(0, host.TeardownGuest());
        Assert.Null(host.RmpOpt);
        var r = host.Result("teardown");
        Assert.Equal(512, r["rmpupdate_to_shared"]);
        Assert.Equal(0, r["folios_4k"]);
        Assert.False(CounterCatalog.RmpOpt.Any(c => r.Counters.Any(p => p.Key == c.Name)));
    }

    [Fact]
    public void A_replay_with_the_option_reports_every_counter_in_catalog_order()
    {
        // Two private faults on a slot the replay infers and one shared access (as CounterCatalogTests' trace). The
        // replay's host is 4 GiB: 4 regions optimised at start; the two private folios (pfns 0 and 1, region 0) are
        // zeroed, the first skipping the check and its conversion turning region 0 off; the second is checked.
        const string trace =
            "# tracer: nop\n"
            + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
            + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000020: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000201000 error_code 0x500000004\n"
            + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000030: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000300000 error_code 0x100000004\n";
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes(trace));
        using var replayer = new Replayer(reader, new ReplayOptions(0, 4 * Gib, RmpOpt: true), ["first-use"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        Assert.Null(replayer.Error);
        var result = Assert.Single(replayer.Results("rmpopt")).Counters;
        Assert.Equal(CounterCatalog.All.Where(c => c.Set != CounterSet.Tdx).Select(c => c.Name), result.Counters.Select(c => c.Key));
        Assert.Equal(4, result["rmpopt_regions_optimized"]);
        Assert.Equal(1, result["rmpopt_regions_disabled"]);
        Assert.Equal(1, result["rmpopt_checks_skipped"]);
        Assert.Equal(1, result["rmpopt_checks_made"]);
    }
}
