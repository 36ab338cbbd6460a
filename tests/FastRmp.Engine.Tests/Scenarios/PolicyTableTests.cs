using FastRmp.Engine.Guests;
using FastRmp.Engine.Hosting;
using FastRmp.Engine.Policies;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Tests.Scenarios;

/// <summary>
/// The answer to the 2023 thread, counted: every scenario under every policy and folio size, with expected values
/// derived by hand from the rules in docs/policies.md (not copied from a run). Columns: RMPUPDATE 4K and 2M, PSMASH,
/// extra #NPF(RMP), memory-fault exits, MAP_GPA_RANGE exits, NPT leaves at 4K and 2M, RMP entries of the guest at 4K
/// and 2M at the end, private faults, stuck accesses (guest accesses that can never complete).
/// </summary>
public sealed class PolicyTableTests
{
    private readonly record struct Row(long U4K, long U2M, long Psmash, long Npf, long Exits, long Hypercalls, long Npt4K, long Npt2M, long Rmp4K, long Rmp2M, long Faults, long Stuck = 0);

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

    // dirty-log, derived from kvm_mmu_slot_apply_flags (arch/x86/kvm/x86.c, 6.18): enabling dirty logging zaps
    // nothing; it splits huge leaves to 4K (eager_page_split, default on) and clears every leaf's writable bit (SVM:
    // cpu_dirty_log_size 0, so kvm_mmu_slot_remove_write_access at PG_LEVEL_4K). A write to such a leaf is an
    // #NPF(present, write) that fast_page_fault (arch/x86/kvm/mmu/mmu.c, 6.18) fixes in place: no get_pfn, not a
    // private fault. 4K folios: 512 faults to validate and touch, then 512 fast-path fixes: 512 faults. 2M folios: the
    // 2M leaf is split into 512 write-protected 4K leaves over the 2M RMP entry; the first write is fixed by the
    // fast path, then its RMP check meets a 4K NPT leaf under a 2M RMP entry: #NPF(RMP), sev_handle_rmp_fault
    // PSMASHes and zaps the 512 4K leaves; the write re-faults (1) and the 511 other writes fault (511), each mapped
    // 4K and writable: 1 + 1 + 511 = 513 faults (the old model zapped at enable and counted 514).
    private static readonly Row Dirty4K = new(512, 0, 0, 0, 0, 0, 512, 0, 512, 0, 512);
    private static readonly Row Dirty2M = new(0, 1, 1, 1, 0, 0, 512, 0, 512, 0, 513);
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

    // fault-hook, as posted (SNP RFC v9 44/51 sev_gmem_prepare(kvm, slot, pfn, gfn, &max_level), called from the RFC
    // v4 07/10 hook in kvm_faultin_pfn_private): one RMP lookup of the faulting pfn, assigned -> clamp max_level to
    // its RMP level; else 2M only when max_level > 4K, pfn AND gfn are 2 MiB-aligned as they are (no rounding), all
    // 512 gfns are private by attribute and all 512 pfns unassigned; else 4K. snp-boot, 2M folios: the payload chunk
    // as before (512 launch RMPUPDATEs, 512 faults clamped to its 4K entries); chunk 1 is MIXED, so its first fault
    // (gfn 0x200, aligned) fails the attribute check and every other fault of it is unaligned: 504 4K conversions, no
    // 2M entry, no PSMASH, no extra #NPF; six chunks at 2M (6 faults). U4K 512 + 504 = 1016, faults 512 + 504 + 6 =
    // 1022, NPT 4K 512 + 504 + 8 shared = 1024. 1G folios (1 GiB guest): the same with 510 chunks at 2M.
    private static readonly Row BootHook2M = new(1016, 6, 0, 0, 0, 2, 1024, 6, 1016, 6, 1022);
    private static readonly Row BootHook1G = new(1016, 510, 0, 0, 0, 2, 1024, 510, 1016, 510, 1526);

    // first-use and every-get-pfn, 1G folios, as merged (sev_gmem_prepare, torvalds sev.c 6.11+): the folio's one
    // prepare call (gfn 0, pfn F, order 18) looks F up and F..F+511, and makes ONE 2M entry at F (GPA 0-2 MiB). The
    // chunk at GPA 2 MiB stays hypervisor-owned: its faults map it at 4K (the clamp sees an unassigned page), its 2M
    // PVALIDATE fails with FAIL_PERMISSION (no fallback: not a size mismatch), and every private access takes #NPF(RMP)
    // that sev_handle_rmp_fault WARNs about and leaves: the access spins. The model tries an access 8 times
    // (Guest.MaxAccessRounds): a page whose leaf is present costs 8 #NPF(RMP), a page that faults first 1 fault + 7.
    // share-4k-keep/punch: validate (1 fault) + touch (8 + 511 x 7 = 3585 #NPF, 511 faults, 512 stuck); the rescind
    // fails quietly, the share zaps one leaf, the shared touch maps it; the second touch: 511 x 8 = 4088 #NPF, 511
    // stuck. #NPF 7673, faults 512, stuck 1023. The punched page was never assigned: no RMPUPDATE back to shared.
    private static readonly Row Keep1GMerged = new(0, 1, 0, 7673, 0, 1, 512, 0, 0, 1, 512, 1023);

    // share-4k-punch under every-get-pfn: the punch splits the 1 GiB folio into 4K folios, and every later get_pfn
    // prepares its 4K folio. The second touch's #NPF(RMP) reaches sev_handle_rmp_fault, whose get_pfn converts the
    // page at 4K (511 4K RMPUPDATEs), so the handler finds a 4K entry (spurious) and the retried access meets a page
    // the guest never validated (its 2M PVALIDATE had failed): #VC, counted stuck. #NPF 3585 + 511 = 4096.
    private static readonly Row Punch1GEveryGetPfn = new(511, 1, 0, 4096, 0, 1, 512, 0, 511, 1, 512, 1023);

    // dirty-log: validate and touch as above (512 faults, 3585 #NPF, 512 stuck); enabling dirty logging write-protects
    // the 512 4K leaves (nothing to split); each write takes one write-protection #NPF that fast_page_fault fixes (the
    // gfn is private by attribute, so page_fault_can_be_fast allows it), then spins on #NPF(RMP): 7 more of the 8
    // tries. Faults 512, #NPF 3585 + 512 x 7 = 7169, stuck 1024.
    private static readonly Row Dirty1GMerged = new(0, 1, 0, 7169, 0, 0, 512, 0, 0, 1, 512, 1024);

    // memslots-512: get_pfn reports order 0, but prepare still gets the folio's order (18): one 2M entry at F (GPA 0,
    // slot 0); the chunk's pages spin as above: 512 faults, 3585 #NPF, 512 stuck.
    private static readonly Row Slots1GMerged = new(0, 1, 0, 3585, 0, 0, 512, 0, 0, 1, 512, 512);

    // psmash-roundtrip: validate and touch (512 faults, 3585 #NPF, 512 stuck); share (zap one leaf) and unshare (its
    // 4K PVALIDATE faults it in: 1 fault, FAIL_PERMISSION); the last touch finds 512 leaves: 4096 #NPF, 512 stuck.
    private static readonly Row Round1GMerged = new(0, 1, 0, 7681, 0, 2, 512, 0, 0, 1, 513, 1024);

    // Roth's unmerged rework of sev_gmem_prepare ("[PATCH 4/5] KVM: SEV: Improve handling of large ranges in gmem
    // prepare callback", 2024-12-12) with first-use preparation: it fills every shared gap of the range, 2M where
    // aligned. For 4K and 2M folios it converts what merged code converts; for 1G folios it makes the 512 2M entries
    // FastRmp used to make for every get_pfn policy, so its rows are the former "others" rows.
    private const string Rework = "first-use-1g-rework";

    public static TheoryData<string, string, int> Cells()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var scenario in ScenarioCatalog.All.Where(s => s.Name != "teardown-rmpopt")) // RMPOPT's counts: RmpOptScenarioTests
        {
            foreach (int order in new[] { 0, 9, 18 })
            {
                foreach (string policy in PolicyCatalog.Names.Append(Rework))
                {
                    data.Add(scenario.Name, policy, order);
                }
            }
        }

        return data;
    }

    // fault-hook rows other than snp-boot 2M/1G: re-derived from the posted hook (docs/policies.md, "fault-hook, row by
    // row") and unchanged: their first faults are at the chunk's aligned gfn 0x200 over an all-private range and a
    // fresh folio's 2 MiB-aligned pfn (2M, 1G) or at order 0 (4K folios, memslots-512), and every later fault finds
    // its page assigned and only clamps.
    // share-busy under 6.18: psmash-roundtrip plus one shared touch of the shared page (a shared fault from the VMM's
    // own memory, which no column counts) and a reference the VMM holds on that memory, which KVM_SET_MEMORY_ATTRIBUTES
    // does not check: the psmash-roundtrip rows. (In place, kvm-x86-2026, see KernelDesignTests.)
    //
    // init-shared under 6.18 (INIT_SHARED refused for an SNP VM, so the gfns start shared by attribute): 512 shared
    // faults from the VMM's memory, then per page a page-state change (512 exits) and a 4K PVALIDATE whose private
    // fault allocates the page's folio. 4K folios, and fault-hook at every size (the range around each first fault is
    // not all private, so the hook converts 4K): 512 4K RMPUPDATEs, 512 faults. 2M folios (alloc-blind, first-use,
    // every-get-pfn, rework): the first fault's folio becomes one 2M entry (prepared, or converted at allocation); the
    // chunk is MIXED, so the leaf is 4K, and the 4K PVALIDATE under the 2M entry takes #NPF(RMP, SIZEM): PSMASH, zap,
    // one re-fault: 513 faults; later faults find their pages assigned. 1G folios: alloc-blind and the rework make the
    // folio 512 2M entries, then as 2M; merged prepare makes one 2M entry at GPA 0 and the chunk's pages stay the
    // host's: each 4K PVALIDATE spins on #NPF(RMP) until the guest gives up (8 rounds): 4096 #NPF, 512 stuck.
    private static readonly Row Init4K = new(512, 0, 0, 0, 0, 512, 512, 0, 512, 0, 512);
    private static readonly Row Init2M = new(0, 1, 1, 1, 0, 512, 512, 0, 512, 0, 513);
    private static readonly Row Init1GWhole = Init2M with { U2M = 512, Rmp2M = 511 };
    private static readonly Row Init1GMerged = new(0, 1, 0, 4096, 0, 512, 512, 0, 0, 1, 512, 512);

    private static Row Expected(string scenario, string policy, int order)
    {
        bool faultHook = policy == "fault-hook";
        if (scenario == "share-busy")
        {
            scenario = "psmash-roundtrip";
        }

        if (scenario == "init-shared")
        {
            bool merged = order == 18 && policy is "first-use" or "every-get-pfn";
            return faultHook || order == 0 ? Init4K : order == 9 ? Init2M : merged ? Init1GMerged : Init1GWhole;
        }

        bool merged1G = order == 18 && policy is "first-use" or "every-get-pfn";
        return (scenario, order) switch
        {
            ("share-4k-punch", 18) when merged1G && policy == "every-get-pfn" => Punch1GEveryGetPfn,
            ("share-4k-keep" or "share-4k-punch", 18) when merged1G => Keep1GMerged,
            ("dirty-log", 18) when merged1G => Dirty1GMerged,
            ("memslots-512", 18) when merged1G => Slots1GMerged,
            ("psmash-roundtrip", 18) when merged1G => Round1GMerged,
            ("snp-boot", 9) when faultHook => BootHook2M,
            ("snp-boot", 18) when faultHook => BootHook1G,
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
            r["npt_4k"], r["npt_2m"], r["rmp_4k_entries"], r["rmp_2m_entries"], r["faults_private"], r["stuck_accesses"]);
        Assert.Equal(Expected(scenario, policy, order), actual);
    }

    // psmash-roundtrip, 4K folios: 512 first faults, then the page made private again re-faults once (its 4K
    // PVALIDATE); its folio stayed in guest_memfd (no hole punch), so get_pfn finds it prepared.
    [Theory]
    [InlineData("first-use", 512)] // prepare once per folio: the re-fault finds its folio uptodate
    [InlineData("every-get-pfn", 513)] // prepare on every get_pfn, including the re-fault
    [InlineData("fault-hook", 513)] // the hook looks the page up on every private fault
    [InlineData("alloc-blind", 0)] // blind at allocation; the clamp hook is not asked at 4K
    public void Rmp_lookups_show_what_each_policy_pays_for_idempotence(string policy, long lookups)
        => Assert.Equal(lookups, ScenarioCatalog.Run("psmash-roundtrip", policy, 0)["rmp_lookups"]);

    // dirty-log, 4K folios: the 512 writes are write-protection #NPFs fixed by fast_page_fault (arch/x86/kvm/mmu/mmu.c,
    // 6.18), which never calls kvm_gmem_get_pfn: only the 512 first faults prepare or look up, whatever the policy.
    // (When enabling dirty logging zapped, as FastRmp modelled it before, every-get-pfn and fault-hook paid 1024.)
    [Theory]
    [InlineData("first-use", 512)]
    [InlineData("every-get-pfn", 512)]
    [InlineData("fault-hook", 512)]
    [InlineData("alloc-blind", 0)]
    public void Dirty_logging_writes_take_no_get_pfn_so_no_policy_looks_the_rmp_up_again(string policy, long lookups)
    {
        var r = ScenarioCatalog.Run("dirty-log", policy, 0);
        Assert.Equal(lookups, r["rmp_lookups"]);
        Assert.Equal(512, r["wp_faults"]);
    }

    // Zaps, write-protection faults and splits of the dirty-log rows (docs/policies.md, "dirty-log, re-derived"), from
    // kvm_mmu_slot_apply_flags (x86.c), fast_page_fault (mmu.c), sev_handle_rmp_fault (svm/sev.c), all 6.18.
    // 4K folios: nothing to split, 512 leaves write-protected, 512 fast-path fixes, nothing zapped. 2M folios (and 1G
    // where the chunk is one 2M RMP entry: fault-hook, alloc-blind, the rework): one 2M leaf split, one fast-path fix
    // (the first write), then the PSMASH zaps the 512 4K leaves. 1G folios under merged prepare: the chunk is mapped
    // 4K (nothing to split); each of the 512 writes is fixed by the fast path once, then spins; nothing is zapped.
    [Theory]
    [MemberData(nameof(DirtyLogCells))]
    public void Dirty_log_zaps_only_what_the_rmp_fault_handler_zaps(string policy, int order)
    {
        bool merged1G = order == 18 && policy is "first-use" or "every-get-pfn";
        (long zapped, long wp, long splits) = order == 0 || merged1G ? (0L, 512L, 0L) : (512L, 1L, 1L);
        var r = ScenarioCatalog.Run("dirty-log", policy, order);
        Assert.Equal((zapped, wp, splits), (r["zapped"], r["wp_faults"], r["huge_splits"]));
    }

    // dirty-log on a VM with KVM_DIRTY_LOG_INITIALLY_SET: kvm_mmu_slot_apply_flags (arch/x86/kvm/x86.c, 6.18) returns
    // before splitting or write-protecting, so the writes find writable leaves. 4K folios: no fault after the 512 of
    // validate and touch. 2M folios: the 2M leaf stays over the 2M RMP entry (sizes agree), so no #NPF(RMP), no PSMASH:
    // 1 fault, NPT 0 / 1, RMP 0 / 1. (Such a VM write-protects only on KVM_CLEAR_DIRTY_LOG, which FastRmp does not
    // model.)
    [Theory]
    [InlineData(0, 512L, 512L, 0L, 0L, 0L)]
    [InlineData(9, 1L, 0L, 1L, 0L, 1L)]
    public void With_initially_set_dirty_log_changes_no_mapping(int order, long faults, long npt4K, long npt2M, long psmash, long rmp2M)
    {
        var r = ScenarioCatalog.Run("dirty-log", "first-use", order, null, new HostOptions { DirtyLogInitiallySet = true });
        Assert.Equal(
            (faults, npt4K, npt2M, psmash, rmp2M, 0L, 0L, 0L, 0L),
            (r["faults_private"], r["npt_4k"], r["npt_2m"], r["psmash"], r["rmp_2m_entries"], r["rmp_npf"], r["wp_faults"], r["zapped"], r["huge_splits"]));
    }

    public static TheoryData<string, int> DirtyLogCells()
    {
        var data = new TheoryData<string, int>();
        foreach (int order in new[] { 0, 9, 18 })
        {
            foreach (string policy in PolicyCatalog.Names.Append(Rework))
            {
                data.Add(policy, order);
            }
        }

        return data;
    }

    [Fact]
    public void Fault_hook_looks_up_the_faulting_pfn_once_and_scans_only_for_an_aligned_2M_conversion()
    {
        // share-4k-keep, 2M folios, the posted hook (SNP RFC v9 44/51): the first fault (gfn 0x200, the folio's head
        // pfn, both aligned, all private) looks the pfn up (1) and scans the 512 pfns (512): 513; the RMP fault
        // handler's lookup (1); the rescind's re-fault finds the pfn assigned (1); the 511 re-faults of the chunk
        // likewise (511). 513 + 1 + 1 + 511 = 1026. (FastRmp's old hook looked up the 2M head, scanned, then the pfn:
        // 3 per re-fault, 2050.)
        Assert.Equal(1026, ScenarioCatalog.Run("share-4k-keep", "fault-hook", 9)["rmp_lookups"]);
    }

    [Fact]
    public void Fault_hook_converts_an_unaligned_first_fault_at_4K()
    {
        // v9 44/51 get_supported_rmp_level: a 2M entry needs the faulting pfn and gfn 2 MiB-aligned as they are; the
        // hook does not round down. A first private access at GPA 0x205000 of a fresh 2M folio: one lookup (the pfn,
        // unassigned), max_level 2M but gfn 0x205 unaligned: one 4K RMPUPDATE, max_level clamped to 4K, a 4K leaf,
        // and the guest has not validated the page yet.
        using var host = new Host("fault-hook", 9, 16UL << 20);
        var outcome = host.Guest.Access(new gpa_t(ScenarioCatalog.SharedPage), isPrivate: true);
        Assert.Equal(AccessResult.NotValidated, outcome.Result);
        Assert.Equal(PgLevel.Level4K, outcome.Leaf.Level);
        Assert.Equal(1, host.Rmp.Counters.RmpUpdate4K);
        Assert.Equal(0, host.Rmp.Counters.RmpUpdate2M);
        Assert.Equal(1, host.Policy.Counters.RmpLookups);
    }

    [Fact]
    public void Merged_prepare_with_1G_folios_leaves_the_guest_stuck_and_says_why()
    {
        var r = ScenarioCatalog.Run("share-4k-keep", "first-use", 18);
        Assert.Equal(1023, r["stuck_accesses"]);
        Assert.Contains("sev_handle_rmp_fault", r.StuckReason, StringComparison.Ordinal);
        Assert.Contains("gpa 0x200000", r.StuckReason, StringComparison.Ordinal); // the first touch of the chunk
        Assert.Null(ScenarioCatalog.Run("share-4k-keep", "first-use-1g-rework", 18).StuckReason);
    }

    [Theory]
    [InlineData("snp-boot", 0)]
    [InlineData("share-4k-punch", 0)]
    [InlineData("snp-boot", 18)]
    public void The_rework_counts_the_same_with_and_without_batched_faults(string scenario, int order)
    {
        // Its fresh-run work (one lookup and one 4K RMPUPDATE per fresh 4 KiB folio) must equal its per-page prepare.
        var a = ScenarioCatalog.Run(scenario, Rework, order, null, new HostOptions(BatchFreshFaults: false));
        var b = ScenarioCatalog.Run(scenario, Rework, order, null, new HostOptions(BatchFreshFaults: true));
        Assert.Equal(a.Counters, b.Counters);
    }

    [Fact]
    public void The_rework_walks_a_fresh_1G_folio_once_and_fills_it_with_2M_entries()
    {
        // share-4k-keep, 1G: the first get_pfn walks the 262144 pages of the fresh folio (512 unassigned 4K entries
        // per 2 MiB block) and makes 512 2M entries; then the clamp on the first fault (1), the RMP fault handler (1),
        // the rescind's re-fault's clamp (1); the 511 MIXED re-faults stop at 4K before the clamp is asked.
        var r = ScenarioCatalog.Run("share-4k-keep", Rework, 18);
        Assert.Equal(512, r["rmpupdate_2m"]);
        Assert.Equal((512 * 512) + 3, r["rmp_lookups"]);
    }

    [Fact]
    public void The_rework_is_an_extra_design_outside_the_default_comparison()
    {
        Assert.Equal(["fault-hook", "alloc-blind", "first-use", "every-get-pfn"], PolicyCatalog.Names);
        Assert.Equal(["first-use-1g-rework"], PolicyCatalog.ExtraNames);
    }

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
