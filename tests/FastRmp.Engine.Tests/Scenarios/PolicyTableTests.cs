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
            _ => faultHook ? Round2M : Round1GWhole,
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

    [Fact]
    public void Unknown_names_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ScenarioCatalog.Run("nope", "first-use", 0));
        Assert.Throws<ArgumentException>(() => ScenarioCatalog.Run("share-4k-keep", "nope", 0));
    }
}
