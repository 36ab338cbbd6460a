using System.Text;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>Which VM (QEMU process) each replay op belongs to (docs/replay.md, "Several VMs in one trace").</summary>
public sealed class TraceOpsProcessTests
{
    private static List<ReplayOp> Ops(string text, out TraceOps ops)
    {
        var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes("# tracer: nop\n" + text));
        ops = new TraceOps(reader);
        var list = new List<ReplayOp>();
        while (ops.MoveNext(out var op))
        {
            list.Add(op);
        }

        reader.Dispose();
        return list;
    }

    [Fact]
    public void The_record_tgid_column_names_the_process_and_dashes_leave_it_unknown()
    {
        var list = Ops(
            " qemu-system-x86-7000    (   7000) [000] .....   100.000001: kvm_vm_set_mem_attributes: 0x0000000000000000 -- 0x0000000000080000 [0x8]\n"
            + "       CPU 0/KVM-7001    (   7000) [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
            + "       CPU 0/KVM-8001    (   8000) [002] .....   100.000011: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
            + "       CPU 1/KVM-9001    (-------) [003] .....   100.000012: kvm_page_fault: vcpu 1 rip 0x0 address 0x0000000000200000 error_code 0x500000004\n",
            out var ops);
        Assert.Equal([(ReplayOpKind.SetAttributes, 7000), (ReplayOpKind.Fault, 7000), (ReplayOpKind.Fault, 8000), (ReplayOpKind.Fault, 0)], list.Select(o => (o.Kind, o.Process)));
        Assert.Equal(("qemu-system-x86", "CPU 0/KVM", ""), (ops.ProcessName(7000), ops.ProcessName(8000), ops.ProcessName(0)));
        Assert.Equal(3, ops.Stats.ThreadsWithProcess);
    }

    [Fact]
    public void An_event_the_replay_uses_in_a_form_it_cannot_read_is_counted_not_dropped_silently()
    {
        // issue 15: a printed form the decoder does not know (here a kvm_page_fault with no address) is skipped, and
        // the count and the first one are kept for the replay's warning; a readable one after it still becomes a fault.
        var list = Ops(
            "       CPU 0/KVM-7001 [001] .....   100.000010: kvm_page_fault: something the decoder does not know\n"
            + "       CPU 0/KVM-7001 [001] .....   100.000020: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n",
            out var ops);
        Assert.Equal([ReplayOpKind.Fault], list.Select(o => o.Kind));
        Assert.Equal(1, ops.Stats.Unreadable);
        Assert.Equal("kvm:kvm_page_fault at 100.000010 s", ops.Stats.FirstUnreadable);
    }

    [Fact]
    public void Exec_starts_a_process_and_fork_puts_the_new_thread_in_its_creators()
    {
        var list = Ops(
            "   bash-4000  [000] .....   100.000001: sched_process_fork: comm=bash pid=4000 child_comm=bash child_pid=5000\n"
            + "   qemu-5000  [000] .....   100.000002: sched_process_exec: filename=/usr/bin/qemu-system-x86_64 pid=5000 old_pid=5000\n"
            + "   qemu-5000  [000] .....   100.000003: sched_process_fork: comm=qemu pid=5000 child_comm=qemu child_pid=5001\n"
            + "   qemu-6000  [001] .....   100.000004: sched_process_fork: comm=qemu pid=6000 child_comm=qemu child_pid=6001\n"
            + "   CPU 0/KVM-5001 [002] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
            + "   CPU 0/KVM-6001 [003] .....   100.000011: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n"
            + "   qemu-6000  [001] .....   100.000012: kvm_vm_set_mem_attributes: 0x0000000000000000 -- 0x0000000000080000 [0x8]\n"
            + "   CPU 1/KVM-7001 [003] .....   100.000013: kvm_page_fault: vcpu 1 rip 0x0 address 0x0000000000200000 error_code 0x500000004\n",
            out var ops);

        // 5000 was bash's child until it exec'd; 6000 was never placed, so it leads the process of the thread it made.
        // (Faults wait for their outcome, so the attribute change comes out first.)
        Assert.Equal([(ReplayOpKind.SetAttributes, 6000), (ReplayOpKind.Fault, 5000), (ReplayOpKind.Fault, 6000), (ReplayOpKind.Fault, 0)], list.Select(o => (o.Kind, o.Process)));
        Assert.Equal(0, ops.Stats.KvmEvents - 4); // the sched events are not KVM events
        Assert.Equal(("CPU 0/KVM", "qemu"), (ops.ProcessName(5000), ops.ProcessName(6000)));
    }
}

/// <summary>The replayer over a generated two-VM trace.</summary>
public sealed class ReplayerTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"fastrmp-replayer-{Guid.NewGuid():N}.dat");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void Each_vm_gets_its_own_sessions_and_disposing_twice_is_harmless()
    {
        FastRmp.Tests.Common.SnpTraceFixture.WriteVms(_path, vms: 2, faultsEach: 200);
        using var reader = TraceFile.OpenReader(_path);
        var replayer = new Replayer(reader, new ReplayOptions(0, 64UL << 30), ["first-use", "fault-hook"]);
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        Assert.Null(replayer.Error);
        Assert.Equal([7000, 8000], replayer.Vms.Select(v => v.Vm.Process));
        Assert.All(replayer.Vms, v => Assert.Equal(["first-use", "fault-hook"], v.Sessions.Select(s => s.Policy)));
        var results = replayer.Results("two");
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.Equal(1.0, r.Fidelity.AgreementRate));
        replayer.Dispose();
        replayer.Dispose(); // freed native memory must not be freed again
    }
}
