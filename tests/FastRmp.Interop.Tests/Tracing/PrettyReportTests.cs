using System.Diagnostics;
using System.Globalization;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Tracing.Writing;
using FastRmp.Tests.Common;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// <c>trace-cmd report</c> text without <c>-R</c> (the default, and <c>-t</c>): every event the replay reads decodes
/// from trace-cmd's pretty print to the values in the binary record it printed (the oracle: the trace.dat the
/// project's writer made, read through its own format offsets, and printed here by the installed trace-cmd).
/// </summary>
public sealed class PrettyReportTests : IDisposable
{
    private const int Qemu = 7000;
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-pretty-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> ReportOptions() => new() { "", "-t" };

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(ReportOptions))]
    public void Every_replayed_event_of_pretty_report_text_decodes_to_the_binary_values(string option)
    {
        var ct = TestContext.Current.CancellationToken;
        string dat = Path.Combine(_dir, "events.dat");
        WriteEveryReplayedEvent(dat);
        string text = Report(dat, option, ct);
        var expected = Decoded(TraceFile.OpenReader(dat), exactTime: option == "-t", ct);
        var actual = Decoded(TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text), "report.txt"), exactTime: option == "-t", ct);
        Assert.True(expected.Count > 40, $"only {expected.Count} records");
        Assert.Equal(expected, actual);
    }

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(ReportOptions))]
    public void A_generated_snp_host_in_pretty_report_text_decodes_like_its_trace_dat(string option)
    {
        var ct = TestContext.Current.CancellationToken;
        string dat = Path.Combine(_dir, "snp.dat");
        SnpTraceFixture.WriteVms(dat, vms: 2, faultsEach: 300);
        string text = Report(dat, option, ct);
        var expected = Decoded(TraceFile.OpenReader(dat), exactTime: option == "-t", ct);
        Assert.Equal(expected, Decoded(TraceFile.OpenText(System.Text.Encoding.UTF8.GetBytes(text), "report.txt"), exactTime: option == "-t", ct));
    }

    /// <summary>
    /// One of each event the replay reads, with values that tell the print forms apart: kvm_userspace_exit with
    /// errno 0 (named and unnamed reasons), -EFAULT (the memory-fault exit, reason 39) and -EINTR ("restart"); page
    /// attributes starting at gfn 0 (printed without 0x by %#016llx); QEMU events of each kind, one with
    /// guest_memfd=-1; an RMP fault with a psmash error.
    /// </summary>
    private static void WriteEveryReplayedEvent(string path)
    {
        var w = new KvmTraceWriter(new TraceDatWriterOptions(7, "none", 2));
        w.Writer.AddCmdline(Qemu, "qemu-system-x86");
        w.Writer.AddCmdline(Qemu + 1, "CPU 0/KVM");
        ulong ts = 5_000_000_000;
        w.ProcessExec(0, ts++, Qemu, "/usr/bin/qemu-system-x86_64");
        w.ProcessFork(0, ts++, Qemu, "qemu-system-x86", Qemu + 1, "qemu-system-x86");
        w.QemuEvent(0, ts++, Qemu, "kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x80000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0");
        w.QemuEvent(0, ts++, Qemu, "kvm_set_user_memory AddrSpace#1 Slot#3 flags=0x0 gpa=0xfeda0000 size=0x20000 ua=0x7f5500000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0");
        w.QemuEvent(0, ts++, Qemu, "kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x800000 len 0x10000 (Normal page)");
        w.SetMemAttributes(0, ts++, Qemu, 0, 0x80000, 8);
        w.SetMemAttributes(0, ts++, Qemu, 0x1234, 0x1235, 0);
        for (int i = 0; i < 6; i++)
        {
            ulong gpa = 0x1000UL * (ulong)(0x100 + (i * 0x1111));
            ulong ec = i % 2 == 0 ? 0x500000004UL : 0x100000006UL;
            w.Exit(1, ts++, Qemu + 1, 0, 0x400, ec, gpa);
            w.PageFault(1, ts++, Qemu + 1, 0, gpa, ec);
            if (i % 3 == 2)
            {
                w.UserspaceExit(1, ts++, Qemu + 1, 39, -14);
                w.QemuEvent(1, ts++, Qemu + 1, FormattableString.Invariant($"kvm_memory_fault start 0x{gpa:x} size 0x1000 flags 0x8"));
                w.QemuEvent(1, ts++, Qemu + 1, FormattableString.Invariant($"kvm_convert_memory start 0x{gpa:x} size 0x1000 to_shared"));
                w.PageFault(1, ts++, Qemu + 1, 0, gpa, ec);
            }

            w.SpteRequested(1, ts++, Qemu + 1, gpa >> 12, 0x100000 + (ulong)i, 1 + (i % 3));
            w.Entry(1, ts++, Qemu + 1, 0);
        }

        w.UserspaceExit(1, ts++, Qemu + 1, 2, 0);
        w.UserspaceExit(1, ts++, Qemu + 1, 39, 0);
        w.UserspaceExit(1, ts++, Qemu + 1, 2, -4);
        w.RmpFault(1, ts++, Qemu + 1, 0, 0x23456000, 0x100010, 0x80000004, 1, -16);
        w.RmpFault(1, ts++, Qemu + 1, 0, 0x200000, 0x100200, 0x800000005, 2, 0);
        w.QemuEvent(1, ts++, Qemu + 1, "kvm_convert_memory start 0x23456000 size 0x1000 to_private");
        w.QemuEvent(0, ts, Qemu, "kvm_hc_map_gpa_range gpa 0x23456000 size 0x1000 attributes 0x8 flags 0x0");
        w.Save(path);
    }

    /// <summary>What the replay takes from each record: kind, cpu, pid, time (exact with -t, else to the microsecond) and the typed values it reads.</summary>
    private static List<string> Decoded(ITraceReader reader, bool exactTime, CancellationToken ct)
    {
        using (reader)
        {
            var decoder = new KvmEventDecoder();
            var keys = new List<string>();
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                var kind = decoder.Classify(r);
                string values = kind switch
                {
                    KvmEventKind.PageFault => decoder.TryRead(r, out KvmPageFault pf) ? Hex(pf.FaultAddress, pf.ErrorCode) : "undecoded",
                    KvmEventKind.SpteRequested => decoder.TryRead(r, out KvmMmuSpteRequested s) ? Hex(s.Gfn, s.Pfn, (ulong)s.Level) : "undecoded",
                    KvmEventKind.UserspaceExit => decoder.TryRead(r, out KvmUserspaceExit e) ? $"reason {e.Reason} errno {e.Errno}" : "undecoded",
                    KvmEventKind.RmpFault => decoder.TryRead(r, out KvmRmpFault f) ? f.ToString() : "undecoded",
                    KvmEventKind.SetMemAttributes => decoder.TryRead(r, out KvmVmSetMemAttributes a) ? a.ToString() : "undecoded",
                    KvmEventKind.ProcessFork => decoder.TryRead(r, out SchedProcessFork pf2) ? pf2.ToString() : "undecoded",
                    KvmEventKind.ProcessExec => decoder.TryRead(r, out SchedProcessExec x) ? x.ToString() : "undecoded",
                    KvmEventKind.QemuSetUserMemory => decoder.TryRead(r, out QemuSetUserMemory m) ? m.ToString() : "undecoded",
                    KvmEventKind.QemuConvertMemory => decoder.TryRead(r, out QemuConvertMemory c) ? c.ToString() : "undecoded",
                    KvmEventKind.QemuMemoryFault => decoder.TryRead(r, out QemuMemoryFault mf) ? mf.ToString() : "undecoded",
                    KvmEventKind.QemuHcMapGpaRange => decoder.TryRead(r, out QemuHcMapGpaRange h) ? h.ToString() : "undecoded",
                    KvmEventKind.QemuSevSnpLaunchUpdate => decoder.TryRead(r, out QemuSevSnpLaunchUpdate l) ? l.ToString() : "undecoded",
                    _ => "",
                };
                ulong ts = exactTime ? r.Timestamp : (r.Timestamp + 500) / 1000; // report prints microseconds rounded
                keys.Add($"{ts} {r.Cpu} {r.Pid} {r.Format.Name} {kind} {values}");
            }

            return keys;
        }
    }

    private static string Hex(params ulong[] values) => string.Join(' ', values.Select(v => v.ToString("x", CultureInfo.InvariantCulture)));

    /// <summary>The installed trace-cmd's report of <paramref name="dat"/> (skips when trace-cmd is absent).</summary>
    private static string Report(string dat, string option, CancellationToken ct)
    {
        string traceCmd = Samples.TraceCmd ?? SkipNoTraceCmd();
        var info = new ProcessStartInfo(traceCmd) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("report");
        if (option.Length > 0)
        {
            info.ArgumentList.Add(option);
        }

        info.ArgumentList.Add(dat);
        using var p = Process.Start(info)!;
        using var kill = ct.Register(() => p.Kill(entireProcessTree: true));
        var err = p.StandardError.ReadToEndAsync(ct);
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"trace-cmd report {option} exited {p.ExitCode}: {err.Result}");
        return text;
    }

    private static string SkipNoTraceCmd()
    {
        Assert.Skip("trace-cmd is not installed (apt-get install trace-cmd): it is the oracle that prints report text");
        return "";
    }
}
