using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// The answer to the 2023 thread, counted: every scenario under every policy and folio size, with expected values
/// derived by hand from the rules in docs/policies.md (not copied from a run). Columns: RMPUPDATE 4K and 2M, PSMASH,
/// extra #NPF(RMP), memory-fault exits, MAP_GPA_RANGE exits, NPT leaves at 4K and 2M, RMP entries of the guest at 4K
/// and 2M at the end, private faults.
/// </summary>
public sealed class PolicyTableTests
{
    private readonly record struct Row(long U4K, long U2M, long Psmash, long Npf, long Exits, long Hypercalls, long Npt4K, long Npt2M, long Rmp4K, long Rmp2M, long Faults);

    // share-4k-keep. 4K folios: 512 folios, each converted at its first touch (the 2M PVALIDATE fails SIZEMISMATCH,
    // the guest falls back to 512 4K PVALIDATEs that fault every page in). 2M folios: one 2M RMPUPDATE, the 2M NPT
    // leaf; rescinding the shared page at 4K raises #NPF(RMP, SIZEM), KVM PSMASHes and zaps the 2M leaf, then 1 + 511
    // re-faults at 4K (MIXED, and the clamp at the now-4K RMP). 1G folios: fault-hook converts only the touched 2 MiB
    // block; the others convert the whole folio as 512 2M entries, of which 511 stay 2M.
    private static readonly Row Keep4K = new(512, 0, 0, 0, 0, 1, 512, 0, 512, 0, 512);
    private static readonly Row Keep2M = new(0, 1, 1, 1, 0, 1, 512, 0, 512, 0, 513);
    private static readonly Row Keep1GWhole = Keep2M with { U2M = 512, Rmp2M = 511 };

    // share-4k-punch: as keep, and the punched page returns to shared (one 4K RMPUPDATE; the entry was already 4K).
    private static readonly Row Punch4K = Keep4K with { U4K = 513, Rmp4K = 511 };
    private static readonly Row Punch2M = Keep2M with { U4K = 1, Rmp4K = 511 };
    private static readonly Row Punch1GWhole = Punch2M with { U2M = 512, Rmp2M = 511 };

    // dirty-log: enabling dirty logging drops the slot's leaves and every later fault is 4K. 4K folios: 512 faults,
    // then 512 re-faults. 2M folios: the 2M leaf goes, the first write maps 4K under the 2M RMP entry: one #NPF, one
    // PSMASH, one more zap, then 511 faults: 1 + 1 + 1 + 511 = 514.
    private static readonly Row Dirty4K = new(512, 0, 0, 0, 0, 0, 512, 0, 512, 0, 1024);
    private static readonly Row Dirty2M = new(0, 1, 1, 1, 0, 0, 512, 0, 512, 0, 514);
    private static readonly Row Dirty1GWhole = Dirty2M with { U2M = 512, Rmp2M = 511 };

    // memslots-512: each slot covers one page, so lpage_info forbids 2M and get_pfn reports order 0 (the folio's gfns
    // are not inside one slot). fault-hook converts at the fault's granularity: 512 4K RMPUPDATEs, no extra fault.
    // The others prepare at the folio's order: one 2M entry (512 for 1G folios) under 4K NPT leaves: the 2M
    // PVALIDATE succeeds, the first access faults #NPF(RMP, SIZEM), PSMASH, one zap, 1 + 1 + 511 = 513 faults.
    private static readonly Row Slots4K = new(512, 0, 0, 0, 0, 0, 512, 0, 512, 0, 512);
    private static readonly Row Slots2MPrepared = new(0, 1, 1, 1, 0, 0, 512, 0, 512, 0, 513);
    private static readonly Row Slots1GWhole = Slots2MPrepared with { U2M = 512, Rmp2M = 511 };

    // psmash-roundtrip: share-4k-keep without the shared touch, then the page is made private again and validated
    // (one more PSC, one more private fault). The RMP stays 4K: no one can re-create the 2M entry (Roth), and the
    // NPT stays 4K because the clamp follows the RMP.
    private static readonly Row Round4K = new(512, 0, 0, 0, 0, 2, 512, 0, 512, 0, 513);
    private static readonly Row Round2M = new(0, 1, 1, 1, 0, 2, 512, 0, 512, 0, 514);
    private static readonly Row Round1GWhole = Round2M with { U2M = 512, Rmp2M = 511 };

    // snp-boot, 16 MiB (1 GiB with 1G folios): the payload chunk is populated (512 4K launch RMPUPDATEs, validated by
    // the firmware); OVMF leaves 8 of the 16 early-shared pages of chunk 1 shared, so chunk 1 is MIXED; every other
    // chunk is accepted with a 2M PVALIDATE. 4K folios: chunk 1 takes 504 4K validations, the 6 others fail the 2M
    // PVALIDATE and take 512 each: 512 + 504 + 3072 = 4088 faults and 4K RMPUPDATEs (alloc-blind also converts the
    // payload folios blind when populate allocates them: +512). 2M folios: chunk 1 is prepared as a 2M entry under 4K
    // leaves: one extra #NPF and a PSMASH (Roth, 2023-08-29), 505 faults; the payload chunk maps at 4K (its RMP
    // entries are 4K): 512 faults; six 2M chunks: 6 faults. alloc-blind converts the payload's folio at 2M when
    // populate allocates it, so SNP_LAUNCH_UPDATE's 4K RMPUPDATE fails with FAIL_OVERLAP and the guest validates the
    // payload chunk at 2M itself (1 fault).
    private static readonly Row Boot4K = new(4088, 0, 0, 0, 0, 2, 4096, 0, 4088, 0, 4088);
    private static readonly Row Boot2M = new(512, 7, 1, 1, 0, 2, 1024, 6, 1024, 6, 1023);
    private static readonly Row Boot2MBlind = new(0, 8, 1, 1, 0, 2, 512, 7, 512, 7, 512);
    private static readonly Row Boot1G = new(512, 511, 1, 1, 0, 2, 1024, 510, 1024, 510, 1527);
    private static readonly Row Boot1GBlind = new(0, 512, 1, 1, 0, 2, 512, 511, 512, 511, 1016);

    public static TheoryData<string, string, int> Cells()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var scenario in ScenarioCatalog.All)
        {
            foreach (int order in new[] { 0, 9, 18 })
            {
                foreach (string policy in PolicyCatalog.Names)
                {
                    data.Add(scenario.Name, policy, order);
                }
            }
        }

        return data;
    }

    private static Row Expected(string scenario, string policy, int order)
    {
        bool faultHook = policy == "fault-hook";
        return (scenario, order) switch
        {
            ("share-4k-keep", 0) => Keep4K,
            ("share-4k-keep", 9) => Keep2M,
            ("share-4k-keep", _) => faultHook ? Keep2M : Keep1GWhole,
            ("share-4k-punch", 0) => Punch4K,
            ("share-4k-punch", 9) => Punch2M,
            ("share-4k-punch", _) => faultHook ? Punch2M : Punch1GWhole,
            ("dirty-log", 0) => Dirty4K,
            ("dirty-log", 9) => Dirty2M,
            ("dirty-log", _) => faultHook ? Dirty2M : Dirty1GWhole,
            ("memslots-512", 0) => Slots4K,
            ("memslots-512", 9) => faultHook ? Slots4K : Slots2MPrepared,
            ("memslots-512", _) => faultHook ? Slots4K : Slots1GWhole,
            ("psmash-roundtrip", 0) => Round4K,
            ("psmash-roundtrip", 9) => Round2M,
            ("psmash-roundtrip", _) => faultHook ? Round2M : Round1GWhole,
            ("snp-boot", 0) => policy == "alloc-blind" ? Boot4K with { U4K = 4600 } : Boot4K,
            ("snp-boot", 9) => policy == "alloc-blind" ? Boot2MBlind : Boot2M,
            _ => policy == "alloc-blind" ? Boot1GBlind : Boot1G,
        };
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Each_scenario_policy_and_folio_size_has_the_derived_counts(string scenario, string policy, int order)
    {
        var r = ScenarioCatalog.Run(scenario, policy, order);
        var actual = new Row(
            r["rmpupdate_4k"], r["rmpupdate_2m"], r["psmash"], r["rmp_npf"], r["memory_fault_exits"], r["hypercall_exits"],
            r["npt_4k"], r["npt_2m"], r["rmp_4k_entries"], r["rmp_2m_entries"], r["faults_private"]);
        Assert.Equal(Expected(scenario, policy, order), actual);
    }

    [Theory]
    [InlineData("first-use", 512)] // prepare once per folio
    [InlineData("every-get-pfn", 1024)] // prepare on every get_pfn, including the re-faults
    [InlineData("fault-hook", 1024)] // the hook looks the page up on every private fault
    [InlineData("alloc-blind", 0)] // blind at allocation; the clamp hook is not asked at 4K
    public void Rmp_lookups_show_what_each_policy_pays_for_idempotence(string policy, long lookups)
        => Assert.Equal(lookups, ScenarioCatalog.Run("dirty-log", policy, 0)["rmp_lookups"]);

    [Fact]
    public void Alloc_blind_looks_up_the_rmp_only_to_clamp_and_to_handle_the_rmp_fault()
    {
        // share-4k-keep, 2M folios: the clamp on the first fault, on the re-fault of the shared page, and the RMP
        // fault handler's own lookup; the 511 MIXED re-faults stop at 4K before the clamp is asked.
        Assert.Equal(3, ScenarioCatalog.Run("share-4k-keep", "alloc-blind", 9)["rmp_lookups"]);
    }

    [Theory]
    [InlineData("alloc-blind", 9, 1)]
    [InlineData("alloc-blind", 18, 1)]
    [InlineData("alloc-blind", 0, 0)]
    [InlineData("first-use", 9, 0)]
    public void Converting_at_allocation_breaks_the_launch_with_large_folios(string policy, int order, long failures)
        => Assert.Equal(failures, ScenarioCatalog.Run("snp-boot", policy, order)["launch_update_failures"]);

    [Fact]
    public void Snp_boot_takes_a_guest_size()
    {
        var r = ScenarioCatalog.Run("snp-boot", "first-use", 9, guestBytes: 64UL << 20);
        Assert.Equal(512 + 505 + 30, r["faults_private"]); // 32 chunks: payload, the mixed chunk, 30 at 2M
        Assert.Throws<ArgumentException>(() => ScenarioCatalog.Run("snp-boot", "first-use", 9, guestBytes: (16UL << 20) + 4096));
    }

    [Fact]
    public void Unknown_names_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ScenarioCatalog.Run("nope", "first-use", 0));
        Assert.Throws<ArgumentException>(() => ScenarioCatalog.Run("share-4k-keep", "nope", 0));
    }
}
