namespace FastRmp.Cli.Tests;

/// <summary>
/// Several traces on one command line (issue 15, "Several files"; docs/replay.md): each is replayed as its own host,
/// one report after the other; the file outputs take one trace at a time.
/// </summary>
public sealed class MultiFileReplayTests : IDisposable
{
    private const string Slot = " qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-multi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Trace(string name, int faults)
    {
        string path = Path.Combine(_dir, name);
        var text = new System.Text.StringBuilder("# tracer: nop\n" + Slot);
        for (int i = 0; i < faults; i++)
        {
            double t = 1.00001 + (i * 0.00001);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"       CPU 0/KVM-7001 [001] ..... {t:F6}: kvm_page_fault: vcpu 0 rip 0x0 address 0x{0x200000 + (i * 0x1000):x} error_code 0x500000004\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"       CPU 0/KVM-7001 [001] ..... {t + 0.000001:F6}: kvm_mmu_spte_requested: gfn {0x200 + i:x} pfn {0x10000 + i:x} level 1\n");
        }

        File.WriteAllText(path, text.ToString());
        return path;
    }

    [Fact]
    public void Each_trace_is_replayed_as_its_own_host_in_order()
    {
        string a = Trace("a.txt", 2), b = Trace("b.txt", 3);
        var (exit, output, err) = CliRunner.Run("replay", a, b, "--host-size", "4G");
        Assert.True(exit == 0, err);
        int first = output.IndexOf($"{a}: ", StringComparison.Ordinal), second = output.IndexOf($"{b}: ", StringComparison.Ordinal);
        Assert.True(first >= 0 && second > first, output);
        // Each host counts only its own trace's faults: 2, then 3 (the private faults row of each report).
        Assert.Contains("5 records", output[first..second], StringComparison.Ordinal); // the slot and 2 x (fault, leaf)
        Assert.Contains("7 records", output[second..], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--json")]
    [InlineData("--html")]
    [InlineData("--disagreements")]
    public void A_file_output_takes_one_trace_at_a_time(string option)
    {
        string a = Trace("a.txt", 1), b = Trace("b.txt", 1);
        var (exit, _, err) = CliRunner.Run("replay", a, b, option, Path.Combine(_dir, "out"));
        Assert.Equal(2, exit);
        Assert.Contains($"{option} writes the report of one trace; with 2 traces, replay each with its own {option}.", err, StringComparison.Ordinal);
    }
}
