using System.Text.Json;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>The replay says when its numbers do not describe the traced host (issue 15, "Follow the host").</summary>
[Collection(HeavyProcesses.Name)]
public sealed class ReplayWarningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-warn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] Warnings(string json)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return [.. doc.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!)];
    }

    [Fact]
    public void A_trace_without_the_sev_encrypted_bit_is_not_taken_for_an_snp_hosts()
    {
        // A plain VM's faults (error code 0x4: user read, no bit 34) and no RMP fault or launch update.
        string trace = Path.Combine(_dir, "plain.txt");
        File.WriteAllText(trace, "# tracer: nop\n"
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x4\n"
            + "       CPU 0/KVM-7001 [001] ..... 1.000011: kvm_mmu_spte_requested: gfn 200 pfn 1234 level 1\n");
        string json = Path.Combine(_dir, "plain.json");
        var (exit, output, err) = CliRunner.Run("replay", trace, "--host-size", "4G", "--json", json);
        Assert.True(exit == 0, err);
        Assert.Contains("not an SEV-SNP host", output, StringComparison.Ordinal);
        Assert.Contains(Warnings(json), w => w.Contains("not an SEV-SNP host", StringComparison.Ordinal));
    }

    [Fact]
    public void Traced_pfns_outside_a_small_host_are_pointed_out_and_an_snp_trace_is_not()
    {
        // The fixture's pfns start at 4 GiB (0x100000): a 2 GiB model host holds none of them.
        string trace = Path.Combine(_dir, "snp.dat");
        SnpTraceFixture.Write(trace, faults: 200);
        string json = Path.Combine(_dir, "snp.json");
        var (exit, _, err) = CliRunner.Run("replay", trace, "--host-size", "2G", "--json", json);
        Assert.True(exit == 0, err);
        var warnings = Warnings(json);
        Assert.Contains(warnings, w => w.Contains("--host-size", StringComparison.Ordinal));
        Assert.DoesNotContain(warnings, w => w.Contains("not an SEV-SNP host", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--json")]
    [InlineData("--html")]
    [InlineData("--export-trace")]
    public void An_output_that_is_the_trace_itself_is_refused_and_the_trace_is_untouched(string option)
    {
        // issue 18, item 7: 'replay x.dat --json x.dat' overwrote the trace with the JSON and exited 0.
        string trace = Path.Combine(_dir, "same.dat");
        SnpTraceFixture.Write(trace, faults: 50);
        byte[] before = File.ReadAllBytes(trace);
        var (exit, _, err) = CliRunner.Run("replay", trace, option, trace);
        Assert.Equal(1, exit);
        Assert.Contains("that is the trace being read", err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(trace));
    }
}
