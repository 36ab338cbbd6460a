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

/// <summary>
/// <c>trace-cmd report -i a.dat -i b.dat</c> (issue 15, "Several files"): one <c>NAME: cpus=N</c> header line per file,
/// then every event line prefixed with its file's name, right-aligned, and a colon (trace-cmd 3.1.6 output). Each file's
/// lines are one host, replayed as if the files had been given one by one.
/// </summary>
public sealed class ReportSeveralFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-report-i-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_reader_tells_the_files_apart_and_reads_one_on_demand()
    {
        string text = "    a.dat: cpus=2\nlonger.dat: cpus=4\n"
            + "    a.dat:        CPU 0/KVM-7001 [001]  1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n"
            + "longer.dat:        CPU 1/KVM-8002 [003]  1.000011: kvm_page_fault: vcpu 1 rip 0x0 address 0x300000 error_code 0x500000004\n"
            + "    a.dat:        CPU 0/KVM-7001 [001]  1.000012: kvm_mmu_spte_requested: gfn 200 pfn 10000 level 1\n";
        string path = Path.Combine(_dir, "two.txt");
        File.WriteAllText(path, text);
        using (var reader = FastRmp.Interop.Tracing.TraceFile.OpenReader(path))
        {
            var seen = new List<(int Source, int Pid, int Cpu)>();
            while (reader.MoveNext(out var r))
            {
                seen.Add((((FastRmp.Interop.Tracing.TextTraceReader)reader).Source, r.Pid, r.Cpu));
            }

            Assert.Equal(["a.dat", "longer.dat"], FastRmp.Interop.Tracing.TraceFile.ReportSources(reader));
            Assert.Equal([(0, 7001, 1), (1, 8002, 3), (0, 7001, 1)], seen);
            Assert.Equal(0, reader.Stats.DamageCount); // the header lines are not damage
            Assert.Equal(4, reader.Info.CpuCount);
        }

        using (var reader = FastRmp.Interop.Tracing.TraceFile.OpenReader(path))
        {
            FastRmp.Interop.Tracing.TraceFile.SelectReportSource(reader, 1);
            Assert.True(reader.MoveNext(out var r));
            Assert.Equal(8002, r.Pid);
            Assert.False(reader.MoveNext(out _));
        }
    }

    [Fact]
    public void Replay_of_a_two_file_report_is_the_replay_of_each_file()
    {
        string traceCmd = FastRmp.Interop.Tests.Tracing.Samples.RequireTraceCmd();
        string a = Path.Combine(_dir, "a.dat"), b = Path.Combine(_dir, "b.dat");
        FastRmp.Tests.Common.SnpTraceFixture.Write(a, faults: 60, seed: 3);
        FastRmp.Tests.Common.SnpTraceFixture.Write(b, faults: 90, seed: 4);
        string both = Path.Combine(_dir, "both.txt"), onlyA = Path.Combine(_dir, "a.txt"), onlyB = Path.Combine(_dir, "b.txt");
        File.WriteAllText(both, FastRmp.Interop.Tests.Tracing.Samples.Run(traceCmd, "report", "-i", a, "-i", b));
        File.WriteAllText(onlyA, FastRmp.Interop.Tests.Tracing.Samples.Run(traceCmd, "report", "-i", a));
        File.WriteAllText(onlyB, FastRmp.Interop.Tests.Tracing.Samples.Run(traceCmd, "report", "-i", b));

        var (exit, output, err) = CliRunner.Run("replay", both, "--host-size", "16G");
        Assert.True(exit == 0, err);
        int first = output.IndexOf("(file 1 of", StringComparison.Ordinal), second = output.IndexOf("(file 2 of", StringComparison.Ordinal);
        Assert.True(first >= 0 && second > first, output);
        foreach (var (section, single) in new[] { (output[first..second], onlyA), (output[second..], onlyB) })
        {
            var (e, alone, err2) = CliRunner.Run("replay", single, "--host-size", "16G");
            Assert.True(e == 0, err2);
            // The tables of the host: everything after the summary's first line, but the timing, is the same.
            Assert.Equal(Tables(alone), Tables(section));
        }
    }

    /// <summary>The report's lines without the ones that name the file or time the run.</summary>
    private static string[] Tables(string output) =>
        [.. output.Split('\n').Where(l => !l.Contains(".txt", StringComparison.Ordinal) && !l.Contains("(file ", StringComparison.Ordinal) && !l.Contains(" s ", StringComparison.Ordinal) && !l.Contains("records/s", StringComparison.Ordinal) && !l.Contains("elapsed", StringComparison.Ordinal)).Select(l => l.TrimEnd()).Where(l => l.Length > 0)];
}
