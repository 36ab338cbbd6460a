namespace FastRmp.Engine.Metrics;

// The counters of a host with RMPOPT (HostOptions.RmpOpt), which Host.Result appends after the model's; docs/rmpopt.md.
public static partial class CounterCatalog
{
    private const string RmpOptSeries = "RMPOPT series (Kalra, v10 2026-06-30; tip 2026-09-18), arch/x86/virt/svm/sev.c";

    /// <summary><c>rmpopt_regions_optimized</c>: regions the pass at SNP initialisation optimised.</summary>
    public static CounterInfo RmpOptRegionsOptimized { get; } = RmpOptCounter(
        "rmpopt_regions_optimized", "RMPOPT optimised", "regions",
        "1 GiB regions the RMPOPT pass at SNP initialisation found free of assigned pages and optimised (the first 2 TiB of host memory)",
        $"RMPOPT verify-and-report over all memory at SNP init, {RmpOptSeries}");

    /// <summary><c>rmpopt_regions_disabled</c>: optimised regions turned off by a conversion to private or a split.</summary>
    public static CounterInfo RmpOptRegionsDisabled { get; } = RmpOptCounter(
        "rmpopt_regions_disabled", "RMPOPT disabled", "regions",
        "optimised 1 GiB regions turned off by an RMPUPDATE that assigned a page, or a PSMASH, in them (once per region, not per page)",
        $"RMPUPDATE clearing the region's RMPOPT bit (Kalra, 2026-02-17; v9 5/6), {RmpOptSeries}");

    /// <summary><c>rmpopt_regions_reenabled</c>: regions the pass after a guest's teardown optimised again.</summary>
    public static CounterInfo RmpOptRegionsReenabled { get; } = RmpOptCounter(
        "rmpopt_regions_reenabled", "RMPOPT re-enabled", "regions",
        "1 GiB regions the RMPOPT pass after a guest's teardown found free of assigned pages again and optimised",
        $"snp_rmpopt_all_physmem from sev_vm_destroy (v10 6/6), {RmpOptSeries}");

    /// <summary><c>rmpopt_regions_on</c>: regions optimised at the end.</summary>
    public static CounterInfo RmpOptRegionsOn { get; } = RmpOptCounter(
        "rmpopt_regions_on", "RMPOPT on", "regions",
        "1 GiB regions optimised at the end (optimised + re-enabled - disabled)",
        "model: the RMPOPT summary at the end");

    /// <summary><c>rmpopt_checks_skipped</c>: host writes to optimised regions.</summary>
    public static CounterInfo RmpOptChecksSkipped { get; } = RmpOptCounter(
        "rmpopt_checks_skipped", "RMP checks skipped", "pages",
        "host writes the model makes (get_pfn zeroing a folio, populate copying a launch page) to pages of optimised regions: RMP checks skipped",
        $"kvm_gmem_get_pfn (virt/kvm/guest_memfd.c, 6.18), sev_gmem_post_populate ({KvmSev}); {RmpOptSeries}");

    /// <summary><c>rmpopt_checks_made</c>: host writes to regions that were not optimised.</summary>
    public static CounterInfo RmpOptChecksMade { get; } = RmpOptCounter(
        "rmpopt_checks_made", "RMP checks made", "pages",
        "host writes the model makes (get_pfn zeroing a folio, populate copying a launch page) to pages of regions not optimised: RMP checks made",
        $"kvm_gmem_get_pfn (virt/kvm/guest_memfd.c, 6.18), sev_gmem_post_populate ({KvmSev}); AMD APM vol. 2 15.36");

    private static CounterInfo RmpOptCounter(string name, string title, string unit, string description, string source)
        => new(name, title, unit, description, source, CounterSet.RmpOpt);
}
