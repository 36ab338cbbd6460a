using System.Text.Json;

namespace FastRmp.Cli.Tests;

/// <summary>
/// <c>--vm-type tdx</c> on scenario, replay and compare (docs/tdx.md, docs/cli.md): TDX designs instead of SNP
/// policies, the tdx_* counters, and a warning when a TDX host's trace is replayed as SNP. Expected values are derived in
/// docs/tdx.md (FastRmp.Engine.Tests TdxScenarioTests checks the same runs in process).
/// </summary>
public sealed class TdxCommandTests : IDisposable
{
    internal const string TdxTrace = "# tracer: nop\n"
        + " qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0\n"
        + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x2\n"
        + "       CPU 0/KVM-7001 [001] ..... 1.000011: kvm_mmu_spte_requested: gfn 200 pfn 10000 level 1\n"
        + "       CPU 0/KVM-7001 [001] ..... 1.000030: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n"
        + " qemu-system-x86-7000 [000] ..... 1.000031: tracing_mark_write: kvm_convert_memory start 0x200000 size 0x1000 to_shared\n"
        + "       CPU 0/KVM-7001 [001] ..... 1.000040: kvm_page_fault: vcpu 0 rip 0x0 address 0x800000200000 error_code 0x181\n"
        + "       CPU 0/KVM-7001 [001] ..... 1.000041: kvm_mmu_spte_requested: gfn 200 pfn 20000 level 1\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-tdx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void A_tdx_scenario_runs_the_design_asked_for_and_reports_its_counters()
    {
        var (exit, output, err) = CliRunner.Run("scenario", "share-4k-keep", "--vm-type", "tdx", "--policy", "tdx-2m", "--folio", "2m", "--json", PathOf("s.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("tdx_demote", output, StringComparison.Ordinal);
        var run = Json(PathOf("s.json"))[0];
        Assert.Equal("tdx-2m", run.GetProperty("policy").GetString());
        var counters = run.GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("tdx_demote").GetInt64()); // docs/tdx.md, share-4k-keep under tdx-2m
        Assert.Equal(2, counters.GetProperty("tdx_track").GetInt64());
    }

    [Fact]
    public void Without_a_policy_a_tdx_scenario_runs_kvm_s_tdx_as_merged()
    {
        var (exit, _, err) = CliRunner.Run("scenario", "td-boot", "--vm-type", "tdx", "--json", PathOf("b.json"));
        Assert.True(exit == 0, err);
        var run = Json(PathOf("b.json"))[0];
        Assert.Equal("tdx", run.GetProperty("policy").GetString());
        Assert.Equal(512, run.GetProperty("counters").GetProperty("tdx_page_add").GetInt64());
        Assert.Equal(3584, run.GetProperty("counters").GetProperty("tdx_page_aug_4k").GetInt64());
    }

    [Theory]
    [InlineData(new[] { "scenario", "td-boot" }, "scenario 'td-boot' is a TDX scenario: add --vm-type tdx.")]
    [InlineData(new[] { "scenario", "dirty-log", "--vm-type", "tdx" }, "scenario 'dirty-log' has no TDX version")]
    [InlineData(new[] { "scenario", "share-4k-keep", "--vm-type", "tdx", "--policy", "first-use" }, "--policy: 'first-use' is not a TDX design")]
    [InlineData(new[] { "scenario", "share-4k-keep", "--policy", "tdx" }, "--policy: 'tdx' is a TDX design: add --vm-type tdx.")]
    [InlineData(new[] { "scenario", "share-4k-keep", "--dpamt" }, "--dpamt: only a TDX host has a PAMT")]
    public void Mixing_vendors_is_a_usage_error(string[] args, string message)
    {
        var (exit, _, err) = CliRunner.Run(args);
        Assert.Equal(2, exit);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tdx_trace_replays_through_the_tdx_model_and_is_recognised_when_replayed_as_snp()
    {
        string trace = PathOf("tdx.txt");
        File.WriteAllText(trace, TdxTrace);
        var (exit, output, err) = CliRunner.Run("replay", trace, "--vm-type", "tdx", "--host-size", "4G", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("REMOVE", output, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", output, StringComparison.Ordinal);
        var report = Json(PathOf("r.json"));
        Assert.Equal("tdx", report.GetProperty("options").GetProperty("vm_type").GetString());
        var counters = report.GetProperty("runs")[0].GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("tdx_remove").GetInt64()); // the private page shared by MapGPA left the Secure EPT
        Assert.Equal(1, counters.GetProperty("faults_shared").GetInt64());

        (exit, output, err) = CliRunner.Run("replay", trace, "--host-size", "4G");
        Assert.True(exit == 0, err);
        Assert.Contains("this looks like an Intel TDX host's trace; replay it with --vm-type tdx", output, StringComparison.Ordinal);

        (exit, output, err) = CliRunner.Run("compare", trace, "--vm-type", "tdx", "--host-size", "4G");
        Assert.True(exit == 0, err);
        Assert.Contains("tdx-2m", output, StringComparison.Ordinal);
    }
}
