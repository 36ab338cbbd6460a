using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>
/// The same KVM records read from a trace.dat and from trace-cmd's text renderings of it must give the same typed
/// events: checks the print-format and -R text parsers against the binary decoder.
/// </summary>
public sealed class TextVersusBinaryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-text-vs-bin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory(Timeout = 120_000)]
    [InlineData("-t")]
    [InlineData("-t -R")]
    public void Typed_events_from_trace_cmd_report_text_equal_those_from_the_binary(string flags)
    {
        string traceCmd = Samples.RequireTraceCmd();
        var ct = TestContext.Current.CancellationToken;
        string dat = Path.Combine(_dir, "kvm.dat");
        KvmFixture.Write(dat, new TraceDatWriterOptions(7, "none"), faults: 300, seed: 5);
        bool raw = flags.Contains("-R", StringComparison.Ordinal);
        var binary = Collect(TraceFile.OpenReader(dat), raw, ct);
        string txt = Path.Combine(_dir, "kvm.txt");
        File.WriteAllText(txt, Samples.Run(traceCmd, ["report", .. flags.Split(' '), dat]));
        var text = Collect(TraceFile.OpenReader(txt), raw, ct);
        Assert.Equal(300 * 6, binary.Count);
        Assert.Equal(binary.Order(StringComparer.Ordinal), text.Order(StringComparer.Ordinal));
    }

    private static List<string> Collect(ITraceReader reader, bool raw, CancellationToken ct)
    {
        using (reader)
        {
            var d = new KvmEventDecoder();
            var list = new List<string>();
            while (reader.MoveNext(out var r))
            {
                ct.ThrowIfCancellationRequested();
                string? typed = d.Classify(r) switch
                {
                    // trace-cmd's kvm plugin prints kvm_exit in the old generation: "reason EXIT_NPF rip 0x0 info A B"
                    // (no vcpu, no intr_info/error_code), so those are compared only for -R text.
                    KvmEventKind.Exit when d.TryRead(r, out KvmExit e) => raw
                        ? $"exit {e.VcpuId} {e.ExitReason} {e.GuestRip:x} {e.Info1:x} {e.Info2:x} {e.IntrInfo:x} {e.ErrorCode:x}"
                        : $"exit {e.GuestRip:x} {e.Info1:x} {e.Info2:x}",
                    KvmEventKind.Entry when d.TryRead(r, out KvmEntry e) => $"entry {e}",
                    KvmEventKind.PageFault when d.TryRead(r, out KvmPageFault e) => $"pf {e}",
                    KvmEventKind.SpteRequested when d.TryRead(r, out KvmMmuSpteRequested e) => $"req {e}",
                    KvmEventKind.SetSpte when d.TryRead(r, out KvmMmuSetSpte e) => $"set {e}",
                    KvmEventKind.TdpMmuSpteChanged when d.TryRead(r, out KvmTdpMmuSpteChanged e) => $"tdp {e}",
                    _ => null,
                };
                if (typed is not null)
                {
                    list.Add($"{r.Timestamp} {r.Cpu} {r.Pid} {typed}");
                }
            }

            return list;
        }
    }
}

/// <summary>The sched events that tell threads' processes apart, from the real VM recording and its trace-cmd renderings.</summary>
public sealed class ProcessEventTests
{
    [Theory]
    [InlineData("tracecmd-dat/vm-sched-kmem-v7-zstd.dat")]
    [InlineData("tracecmd-dat/vm-sched-kmem-v6.dat")]
    [InlineData("text-local/report-t-nsec.txt")]
    [InlineData("text-local/report-R-raw.txt")]
    public void Fork_and_exec_decode_to_the_pids_the_report_prints(string relative)
    {
        // report-t-nsec.txt lines 15, 68, 133 (read by hand): 12655 forks 12656, 12656 forks 12657, 12657 execs sleep.
        var d = new KvmEventDecoder();
        var seen = new List<string>();
        using var reader = TraceFile.OpenReader(Samples.Path_(relative));
        while (reader.MoveNext(out var r))
        {
            switch (d.Classify(r))
            {
                case KvmEventKind.ProcessFork:
                    Assert.True(d.TryRead(r, out SchedProcessFork f));
                    seen.Add($"fork {f.ParentPid} {f.ChildPid}");
                    break;
                case KvmEventKind.ProcessExec:
                    Assert.True(d.TryRead(r, out SchedProcessExec e));
                    seen.Add($"exec {e.Pid}");
                    break;
            }
        }

        Assert.Equal(["fork 12655 12656", "fork 12656 12657", "exec 12657"], seen.Take(3));
        Assert.Equal(seen.Count(s => s.StartsWith("fork", StringComparison.Ordinal)), File.Exists(Samples.Path_("text-local/report-t-nsec.txt"))
            ? File.ReadLines(Samples.Path_("text-local/report-t-nsec.txt")).Count(l => l.Contains(" sched_process_fork:", StringComparison.Ordinal)) : -1);
    }
}
