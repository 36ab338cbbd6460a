using FastRmp.Engine.Hosting;
using FastRmp.Engine.Metrics;
using FastRmp.Engine.Reports;
using FastRmp.Engine.Scenarios;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Tdx;

/// <summary>
/// The TDX scenarios' counts, each worked out by hand in docs/tdx.md ("The table, derived") from arch/x86/kvm/vmx/tdx.c
/// at 6.16 (one SEPT.ADD per missing table, AUG per mapped leaf, BLOCK + TRACK + REMOVE + WBINVD per removed leaf,
/// MapGPA in 2 MiB exits), the guest's <c>tdx_accept_memory</c> (1G, then 2M, then 4K) and the huge-page series RFC
/// v2 (2M leaves at run time, 4K while built, split before a partial zap, GUEST_INHIBIT on a smaller accept). The TD
/// is 16 MiB; the chunk is the 2 MiB at GPA 2 MiB; folios are 4 KiB for "tdx" and 2 MiB for "tdx-2m".
/// </summary>
public sealed class TdxScenarioTests
{
    private const int Folio4K = 0;
    private const int Folio2M = 9;

    [Fact]
    public void Share_4k_keep_as_merged_removes_one_4k_leaf()
    {
        // Accepting the chunk: the 2M try exits (nothing mapped), KVM maps 4K (3 tables: 512 GiB, 1 GiB, 2 MiB), the
        // retried 2M accept meets the table (mismatch), then 512 4K accepts, 511 of them after an exit each.
        // Sharing one page: one MapGPA exit; the attribute change zaps the leaf: BLOCK, TRACK, REMOVE, WBINVD.
        var r = TdxScenarioCatalog.Run("share-4k-keep", "tdx", Folio4K);
        Expect(r, ("faults_private", 512), ("faults_shared", 1), ("hypercall_exits", 1), ("tdx_sept_add", 3), ("tdx_page_aug_4k", 512),
            ("tdx_page_aug_2m", 0), ("tdx_accepted_4k", 512), ("tdx_accept_size_mismatch", 1), ("tdx_accept_ept_violations", 512),
            ("tdx_range_block", 1), ("tdx_track", 1), ("tdx_remove", 1), ("tdx_wbinvd", 1), ("tdx_demote", 0), ("tdx_sept_pages", 3), ("zapped", 1));
    }

    [Fact]
    public void Share_4k_keep_with_huge_pages_demotes_then_removes()
    {
        // One exit maps the chunk at 2M (2 tables, AUG 2M) and the 2M accept succeeds. Sharing a page cuts the 2M leaf:
        // BLOCK + TRACK + DEMOTE (a new table page), then the 4K leaf's BLOCK + TRACK + REMOVE + WBINVD.
        var r = TdxScenarioCatalog.Run("share-4k-keep", "tdx-2m", Folio2M);
        Expect(r, ("faults_private", 1), ("faults_shared", 1), ("hypercall_exits", 1), ("tdx_sept_add", 2), ("tdx_page_aug_2m", 1),
            ("tdx_page_aug_4k", 0), ("tdx_accepted_2m", 1), ("tdx_accepted_4k", 0), ("tdx_accept_ept_violations", 1),
            ("tdx_range_block", 2), ("tdx_track", 2), ("tdx_demote", 1), ("tdx_remove", 1), ("tdx_wbinvd", 1), ("tdx_sept_pages", 3), ("huge_splits", 1));
    }

    [Fact]
    public void Roundtrip_as_merged_maps_the_page_again_at_4k()
    {
        var r = TdxScenarioCatalog.Run("psmash-roundtrip", "tdx", Folio4K);
        Expect(r, ("faults_private", 513), ("hypercall_exits", 2), ("tdx_page_aug_4k", 513), ("tdx_accepted_4k", 513),
            ("tdx_accept_ept_violations", 513), ("tdx_accept_size_mismatch", 1), ("tdx_range_block", 1), ("tdx_track", 1), ("tdx_remove", 1), ("tdx_sept_add", 3));
    }

    [Fact]
    public void Roundtrip_with_huge_pages_never_promotes_back()
    {
        // After the demote the chunk has a 4K table: the page comes back at 4K (no promotion, RFC v2 patch 7).
        var r = TdxScenarioCatalog.Run("psmash-roundtrip", "tdx-2m", Folio2M);
        Expect(r, ("faults_private", 2), ("hypercall_exits", 2), ("tdx_page_aug_2m", 1), ("tdx_page_aug_4k", 1), ("tdx_accepted_2m", 1),
            ("tdx_accepted_4k", 1), ("tdx_accept_ept_violations", 2), ("tdx_range_block", 2), ("tdx_track", 2), ("tdx_demote", 1),
            ("tdx_remove", 1), ("tdx_wbinvd", 1), ("tdx_sept_add", 2), ("tdx_sept_pages", 3), ("npt_2m", 0));
    }

    [Fact]
    public void Td_boot_as_merged_adds_the_image_and_accepts_the_rest_page_by_page()
    {
        // Build: 512 pages mapped at 4K and added (3 tables). Then 7 chunks of 2 MiB accepted: per chunk 512 exits,
        // 512 AUGs, 1 table, 1 size mismatch (the 2M try), 512 4K accepts.
        var r = TdxScenarioCatalog.Run("td-boot", "tdx", Folio4K);
        Expect(r, ("faults_private", 512 + (7 * 512)), ("tdx_page_add", 512), ("tdx_page_aug_4k", 7 * 512), ("tdx_sept_add", 3 + 7),
            ("tdx_accepted_4k", 7 * 512), ("tdx_accept_size_mismatch", 7), ("tdx_accept_ept_violations", 7 * 512), ("tdx_sept_pages", 10),
            ("tdx_pamt_bytes", 16_814_080));
    }

    [Fact]
    public void Td_boot_with_huge_pages_accepts_each_chunk_in_one_exit()
    {
        // Build at 4K as before (3 tables, 512 adds); each of the 7 chunks: one exit, AUG 2M, one 2M accept.
        var r = TdxScenarioCatalog.Run("td-boot", "tdx-2m", Folio2M);
        Expect(r, ("faults_private", 512 + 7), ("tdx_page_add", 512), ("tdx_page_aug_2m", 7), ("tdx_page_aug_4k", 0), ("tdx_sept_add", 3),
            ("tdx_accepted_2m", 7), ("tdx_accept_ept_violations", 7), ("tdx_accept_size_mismatch", 0), ("npt_2m", 7), ("npt_4k", 512));
    }

    [Fact]
    public void Accept_mismatch_with_huge_pages_splits_once_and_inhibits()
    {
        // The pre-fault maps the chunk at 2M; the 4K accept exits on the larger pending leaf; KVM demotes it (BLOCK,
        // TRACK, DEMOTE) and sets GUEST_INHIBIT; the retried 4K accept succeeds.
        var r = TdxScenarioCatalog.Run("accept-mismatch", "tdx-2m", Folio2M);
        Expect(r, ("faults_private", 1), ("tdx_page_aug_2m", 1), ("tdx_sept_add", 2), ("tdx_range_block", 1), ("tdx_track", 1), ("tdx_demote", 1),
            ("tdx_accept_splits", 1), ("tdx_accepted_4k", 1), ("tdx_accept_ept_violations", 1), ("tdx_sept_pages", 3), ("huge_splits", 1));
    }

    [Fact]
    public void Accept_mismatch_as_merged_prefaults_512_pages()
    {
        // kvm_tdp_map_page maps 4K at a time as merged: the 2 MiB pre-fault is 512 faults and 512 AUGs; the 4K accept then works.
        var r = TdxScenarioCatalog.Run("accept-mismatch", "tdx", Folio2M);
        Expect(r, ("faults_private", 512), ("tdx_page_aug_4k", 512), ("tdx_sept_add", 3), ("tdx_accepted_4k", 1), ("tdx_accept_ept_violations", 0), ("tdx_demote", 0));
    }

    [Fact]
    public void Memslots_512_map_at_4k_under_both_designs()
    {
        foreach (var (design, folio) in new[] { ("tdx", Folio4K), ("tdx-2m", Folio2M) })
        {
            var r = TdxScenarioCatalog.Run("memslots-512", design, folio);
            Expect(r, ("faults_private", 512), ("tdx_page_aug_4k", 512), ("tdx_page_aug_2m", 0), ("tdx_sept_add", 3), ("tdx_accepted_4k", 512),
                ("tdx_accept_size_mismatch", 1), ("tdx_accept_ept_violations", 512));
        }
    }

    [Fact]
    public void Dpamt_growth_counts_pamt_pages_for_the_2m_ranges_in_use()
    {
        // 8 chunks get one 4K page each (8 exits, 8 AUGs, 2 + 8 tables); 4 are shared again with a punch (4 removals).
        var r = TdxScenarioCatalog.Run("dpamt-growth", "tdx", Folio4K);
        Expect(r, ("faults_private", 8), ("tdx_page_aug_4k", 8), ("tdx_sept_add", 10), ("tdx_accepted_4k", 8), ("tdx_accept_ept_violations", 8),
            ("tdx_remove", 4), ("tdx_range_block", 4), ("tdx_track", 4), ("tdx_wbinvd", 4), ("hypercall_exits", 4));

        // Dynamic PAMT: bitmap 128 KiB + 2M level 32 KiB + 1G level 4 KiB + refcounts 8 KiB, plus 8 KiB per 2 MiB range in use.
        long ranges = r["tdx_pamt_add"] - r["tdx_pamt_remove"];
        Assert.InRange(r["tdx_pamt_add"], 1, 18); // 18 pages were handed to the module: 10 tables, 8 guest pages
        Assert.Equal((128 << 10) + (32 << 10) + 4096 + 8192 + (ranges * 8192), r["tdx_pamt_bytes"]);
        Assert.True(r["tdx_pamt_bytes"] < 16_814_080 / 50, "Dynamic PAMT of a mostly idle host is a small part of the static PAMT");
    }

    [Fact]
    public void The_host_map_of_a_td_shows_the_regions_its_private_leaves_map()
    {
        // td-boot with the series: the payload's 2 MiB folio is mapped by 512 4K leaves (one region, private 4K), each of
        // the 7 accepted chunks by a 2M leaf over its own 2 MiB folio (7 regions, private 2M).
        var boot = TdxScenarioCatalog.Run("td-boot", "tdx-2m", Folio2M);
        Assert.Equal(7, boot.Map!.Count(HostRegionState.Private2M));
        Assert.Equal(1, boot.Map.Count(HostRegionState.Private4K));

        // share-4k-keep: the demoted chunk is 511 4K leaves over one folio: one region, private 4K, no 2M left.
        var share = TdxScenarioCatalog.Run("share-4k-keep", "tdx-2m", Folio2M);
        Assert.Equal(0, share.Map!.Count(HostRegionState.Private2M));
        Assert.Equal(1, share.Map.Count(HostRegionState.Private4K));
    }

    [Fact]
    public void Results_carry_the_tdx_counters_after_the_model_s_and_name_the_design()
    {
        var r = TdxScenarioCatalog.Run("share-4k-keep", "tdx", Folio4K);
        Assert.Equal("tdx", r.Policy);
        Assert.Equal(CounterCatalog.Model.Concat(CounterCatalog.Tdx).Select(c => c.Name), r.Counters.Select(c => c.Key));
        Assert.Throws<ArgumentException>(() => TdxScenarioCatalog.Run("share-4k-keep", "first-use", Folio4K));
        Assert.Throws<ArgumentException>(() => TdxScenarioCatalog.Run("no-such", "tdx", Folio4K));
        using var snp = new Host("first-use", Folio4K, 16UL << 20, new HostOptions(VmType: KvmVmType.Snp));
        Assert.Null(snp.Tdx);
    }

    private static void Expect(RunResult r, params (string Name, long Value)[] expected)
    {
        foreach (var (name, value) in expected)
        {
            Assert.True(value == r[name], $"{r.Workload} under {r.Policy}: {name} = {r[name]}, expected {value}");
        }
    }
}
