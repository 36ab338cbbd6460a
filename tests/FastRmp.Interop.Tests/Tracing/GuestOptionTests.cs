using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// The GUEST option (13) of a host trace.dat recorded with its guests (issue 15, "Host + guest traces"): the guest's
/// name, trace id and each vCPU's host thread (layout: traces.md 2.2 and trace-cmd's reader of the option). The file is
/// written by the project's writer and read back by FastRmp and by trace-cmd.
/// </summary>
public sealed class GuestOptionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_guest_option_is_read_back_with_its_vcpu_map(bool bigEndian)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-guest-{bigEndian}-{Environment.ProcessId}.dat");
        try
        {
            Write(path, bigEndian);
            using var file = TraceDatFile.Open(TraceInput.FromFile(path), ownsInput: true);
            var guest = Assert.Single(file.Guests);
            Assert.Equal("snp-guest", guest.Name);
            Assert.Equal(0x1122334455667788UL, guest.TraceId);
            Assert.Equal([new(0, 4242), new(1, 4243)], guest.Vcpus);
            using var reader = TraceFile.OpenReader(path);
            var seen = Assert.Single(TraceFile.GuestsOf(reader));
            Assert.Equal(guest.Name, seen.Name);
            Assert.Equal(guest.Vcpus, seen.Vcpus);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Trace_cmd_reads_the_guest_option_the_writer_makes()
    {
        string traceCmd = Samples.RequireTraceCmd();
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-guest-tc-{Environment.ProcessId}.dat");
        try
        {
            Write(path, bigEndian: false);
            string dump = Samples.Run(traceCmd, "dump", "--options", path);
            Assert.Contains("snp-guest", dump, StringComparison.Ordinal);
            // trace-cmd still reads every record of the file (the option did not throw its reader off).
            string report = Samples.Run(traceCmd, "report", path);
            Assert.Equal(2, report.Split('\n').Count(l => l.Contains("kvm_page_fault", StringComparison.Ordinal)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new byte[] { (byte)'g' })] // no NUL
    [InlineData(new byte[] { (byte)'g', 0, 1, 2, 3 })] // no trace id
    [InlineData(new byte[] { (byte)'g', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f })] // 2^31-1 vCPUs in 0 bytes
    public void A_damaged_guest_option_is_ignored(byte[] data)
    {
        Assert.Null(TraceGuest.Parse(data, bigEndian: false));
    }

    private static void Write(string path, bool bigEndian)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, "none", 2, BigEndian: bigEndian));
        var pf = new RecordBuilder(w.AddFormat("kvm", "name: kvm_page_fault\nID: 100\nformat:\n"
            + "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
            + "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
            + "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:u64 fault_address;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:u64 error_code;\toffset:32;\tsize:8;\tsigned:0;\n\n"
            + "print fmt: \"vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx\", REC->vcpu_id, REC->guest_rip, REC->fault_address, REC->error_code\n"), 0, bigEndian);
        w.AddGuest("snp-guest", 0x1122334455667788UL, [new(0, 4242), new(1, 4243)]);
        w.AddRecord(0, 1000, pf.Reset().Set("common_pid", 4242).Set("fault_address", 0x1000).Bytes);
        w.AddRecord(1, 2000, pf.Reset().Set("common_pid", 4243).Set("vcpu_id", 1).Set("fault_address", 0x2000).Bytes);
        w.Save(path);
    }
}
