using FastRmp.Engine.Hosting;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Scenarios;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// Where the RMP clamp is asked, by kernel (issue 14, fix 5; kernel-domain.md 5.3 gmem path step 4 and 5.4 step 4):
/// 6.11-6.17 ask <c>private_max_mapping_level</c> from <c>kvm_max_private_mapping_level</c> in the fault-in whenever
/// the folio order allows more than 4K; 6.18 asks <c>gmem_max_mapping_level</c> from <c>kvm_mmu_max_mapping_level</c>
/// only once lpage_info (MIXED counting as disallowed) left a level above 4K. The hook is SEV's one RMP lookup.
/// </summary>
public sealed class KernelVersionTests
{
    /// <summary>The kernels that differ from 6.18 only in where the clamp is asked (7.0 on also change preparation).</summary>
    public static TheoryData<string> Kernels => [.. KvmKernel.All.Where(k => k.PrepareTracking).Select(k => k.Name)];

    [Theory]
    [InlineData("6.11", 1027)]
    [InlineData("6.13", 1027)]
    [InlineData("6.18", 516)]
    public void Share_4k_keep_with_2M_folios_asks_the_clamp_on_every_refault_of_the_mixed_chunk_before_6_18(string kernel, long lookups)
    {
        // first-use, 2M folios, by hand:
        // 1. The chunk's 2M PVALIDATE faults it in: get_pfn prepares the folio (sev_gmem_prepare: 1 lookup of the pfn,
        //    then the 512-entry scan before its 2M RMPUPDATE), then the clamp asks the RMP level (1): 514, a 2M leaf.
        //    The guest touches the chunk through that leaf: no fault.
        // 2. The guest rescinds the shared page at 4K: #NPF(RMP, SIZEM); sev_handle_rmp_fault looks the pfn up (1),
        //    PSMASHes and zaps; the re-fault's clamp sees a 4K entry (1), which maps the page at 4K: 516. Both kernels
        //    ask here: the chunk is not MIXED yet, so 6.18's lpage walk still allows 2M.
        // 3. The page-state change makes the chunk MIXED; the guest touches the shared page (a shared fault: no lookup)
        //    and the 511 private pages, each a fault with order 9 (max_level 2M):
        //    - 6.11-6.17: kvm_max_private_mapping_level asks the clamp on each (511 lookups): 516 + 511 = 1027;
        //    - 6.18: lpage_info says MIXED, kvm_mmu_max_mapping_level returns 4K before the hook: 516.
        var result = ScenarioCatalog.Run("share-4k-keep", "first-use", folioOrder: 9, guestBytes: null, new HostOptions(Kernel: KvmKernel.Parse(kernel)));
        Assert.Equal(lookups, result["rmp_lookups"]);
        Assert.Equal(kernel, result.Kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void The_clamp_placement_changes_lookups_only(string kernel)
    {
        // The clamp returns the RMP level, and a MIXED chunk's lpage walk gives 4K anyway: every level, conversion and
        // fault is the same under every kernel, only rmp_lookups differs (above).
        var options = new HostOptions(Kernel: KvmKernel.Parse(kernel));
        foreach (string scenario in ScenarioCatalog.All.Select(s => s.Name))
        {
            foreach (int order in new[] { 0, 9 })
            {
                var reference = ScenarioCatalog.Run(scenario, "first-use", order);
                var run = ScenarioCatalog.Run(scenario, "first-use", order, null, options);
                foreach (var (name, value) in reference.Counters)
                {
                    if (name != "rmp_lookups")
                    {
                        Assert.True(value == run[name], $"{scenario} order {order} under {kernel}: {name} {run[name]}, 6.18 gives {value}");
                    }
                }
            }
        }
    }

    [Fact]
    public void With_4K_folios_no_kernel_asks_the_clamp()
    {
        // Order 0: max_level is 4K from the folio, so kvm_max_private_mapping_level returns before the hook (6.11-6.17)
        // and kvm_mmu_hugepage_adjust returns before kvm_mmu_max_mapping_level (6.18): the lookups are prepare's alone.
        foreach (var kernel in KvmKernel.All.Where(k => !k.InPlaceConversion)) // in place, the share itself looks the page up
        {
            var run = ScenarioCatalog.Run("share-4k-keep", "first-use", 0, null, new HostOptions(Kernel: kernel));
            Assert.Equal(ScenarioCatalog.Run("share-4k-keep", "first-use", 0)["rmp_lookups"], run["rmp_lookups"]);
        }
    }

    [Fact]
    public void Unknown_kernels_are_refused_with_the_list()
    {
        var error = Assert.Throws<ArgumentException>(() => KvmKernel.Parse("5.15"));
        Assert.Contains("6.11, 6.13, 6.18", error.Message, StringComparison.Ordinal);
        Assert.False(KvmKernel.TryParse(null, out _));
        Assert.Same(KvmKernel.V6_18, KvmKernel.Default);
    }
}
