using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Replay;

/// <summary>What <see cref="TraceOps"/> saw in a trace. Written by the one thread that reads the trace; read it after the replay or accept stale values.</summary>
public sealed class TraceOpStats
{
    /// <summary>Records read (every event, typed or not).</summary>
    public long Records { get; internal set; }

    /// <summary>Records that are typed KVM or QEMU events.</summary>
    public long KvmEvents { get; internal set; }

    /// <summary>kvm_page_fault events that start a guest access (no RMP bit).</summary>
    public long Faults { get; internal set; }

    /// <summary>kvm_page_fault events with the RMP bit: consequences of the host's policy, compared rather than replayed.</summary>
    public long RmpBitFaults { get; internal set; }

    /// <summary>kvm_mmu_spte_requested events matched to their fault.</summary>
    public long SpteRequested { get; internal set; }

    /// <summary>kvm_mmu_spte_requested events with no open fault of the same thread and gfn (prefetch, pre-fault).</summary>
    public long UnmatchedSpteRequested { get; internal set; }

    /// <summary>
    /// Faults whose error code has bit 34 (PFERR_GUEST_ENC: the NPF exit info of an SEV guest's encrypted access). None
    /// in a trace with faults means the host did not run an SEV-SNP guest (a plain VM, or Intel VMX/TDX, whose EPT
    /// violations never set it): the replay, which models SNP, does not describe such a host.
    /// </summary>
    public long EncryptedFaults { get; internal set; }

    /// <summary>
    /// Faults whose GPA has a TD's shared bit (47 or 51): a TDX host traces the exit's GPA as is
    /// (<c>tdx_handle_ept_violation</c>, 6.16), so these mark a TDX trace.
    /// </summary>
    public long TdxSharedBitFaults { get; internal set; }

    /// <summary>
    /// Records of an event the replay uses (faults, leaves, exits, attributes, QEMU's memslots and conversions) whose
    /// fields could not be read: in text, a printed form the decoder does not know (e.g. a trace-cmd report pretty
    /// print). They are skipped; <see cref="FirstUnreadable"/> names the first.
    /// </summary>
    public long Unreadable { get; internal set; }

    /// <summary>The first unreadable record's event and time, or null.</summary>
    public string? FirstUnreadable { get; internal set; }

    /// <summary>KVM_EXIT_HYPERCALL exits traced (<c>kvm_userspace_exit</c> reason 3: MAP_GPA_RANGE for SNP guests).</summary>
    public long HypercallExits { get; internal set; }

    /// <summary>KVM_EXIT_MEMORY_FAULT exits traced (kvm_userspace_exit reason 39 or -EFAULT, or QEMU kvm_memory_fault).</summary>
    public long MemoryFaultExits { get; internal set; }

    /// <summary>kvm_rmp_fault events.</summary>
    public long RmpFaults { get; internal set; }

    /// <summary>Memslot changes (QEMU kvm_set_user_memory with ret 0).</summary>
    public long Memslots { get; internal set; }

    /// <summary>QEMU kvm_set_user_memory events that failed in QEMU (ret != 0), skipped.</summary>
    public long FailedMemslots { get; internal set; }

    /// <summary>Attribute changes (kvm_vm_set_mem_attributes) and QEMU conversions.</summary>
    public long Conversions { get; internal set; }

    /// <summary>QEMU kvm_sev_snp_launch_update ranges.</summary>
    public long LaunchUpdates { get; internal set; }

    /// <summary>Threads whose process the trace told (a record's tgid, or sched_process_fork/exec).</summary>
    public long ThreadsWithProcess { get; internal set; }

    /// <summary>The first and last timestamps seen (ns).</summary>
    public ulong FirstTimestamp { get; internal set; }

    /// <inheritdoc cref="FirstTimestamp"/>
    public ulong LastTimestamp { get; internal set; }
}

/// <summary>
/// Turns a trace into the steps of a replay: guest accesses (<c>kvm_page_fault</c> without the RMP bit), with the
/// traced kernel's outcome attached when the same thread's next KVM event shows it (<c>kvm_mmu_spte_requested</c>:
/// mapped at a level and pfn; <c>kvm_userspace_exit</c> KVM_EXIT_MEMORY_FAULT: an exit), memslot changes, attribute
/// changes and conversions, launch updates, and RMP faults.
/// </summary>
/// <remarks>
/// Event order within one fault follows arch/x86/kvm/mmu/mmu.c (6.18; kernel-domain.md 6): <c>kvm_page_fault</c> is
/// traced on #NPF entry, <c>kvm_mmu_spte_requested</c> when the leaf is installed at goal_level with
/// <c>pfn | (gfn &amp; (pages(goal_level) - 1))</c>, and a memory-fault exit ends in <c>kvm_userspace_exit</c> (reason
/// 39 in binary; text prints <c>error (14)</c>, -EFAULT). A fault waits for its outcome per thread (the vCPU thread's
/// pid), so a vCPU moving between CPUs keeps its pairing. #NPF error code bits are those of traces.md 1.6:
/// bit 31 RMP, bit 34 ENC (private), bit 49 PRIVATE_ACCESS (KVM-synthetic).
/// <para>
/// Each op names its VM by the QEMU process of its thread (<see cref="ReplayOp.Process"/>): the record's tgid where
/// the input carries one (ftrace text with record-tgid, <c>perf script</c> with pid/tid); otherwise, for trace.dat,
/// the sched events when they were recorded: after <c>sched_process_exec</c> a task leads its own process, and a task
/// made by <c>sched_process_fork</c> joins its creator's process (QEMU makes its vCPU threads from the main thread; a
/// forked child process is indistinguishable from a thread until it execs). Threads the trace says nothing about
/// are process 0, so a trace without process information is one VM. Not thread-safe.
/// </para>
/// </remarks>
public sealed class TraceOps
{
    private const ulong RmpBit = 1UL << 31;
    private const uint MemoryFaultExitReason = 39;
    private const uint HypercallExitReason = 3; // KVM_EXIT_HYPERCALL
    private const ulong EncBit = 1UL << 34; // PFERR_GUEST_ENC_MASK: set by SVM for an SEV guest's encrypted access
    private const int Efault = 14;
    private readonly ITraceReader _reader;
    private readonly KvmEventDecoder _decoder = new();
    private const int DirectPids = 1 << 22; // PID_MAX_LIMIT on 64-bit Linux: pids below it index an array
    private readonly Dictionary<int, int> _slotOfOtherPid = [];
    private readonly Dictionary<int, int> _processOf = [];
    private readonly Dictionary<int, (string Name, bool FromLeader)> _processNames = [];
    private int _lastNamed;
    private readonly ConcurrentDictionary<int, string> _nameAtFirstOp = []; // written by the decoding thread, read by the models' (OpReadAhead)
    private int _lastEnqueued = -1;
    private readonly ReplayOp[] _queue = new ReplayOp[4];
    private ReplayOp[] _pending = new ReplayOp[16];
    private bool[] _pendingActive = new bool[16];
    private int[] _slotOfPid = new int[1024]; // a pid's pending slot + 1 (0: none)
    private int _slots;
    private int _queueHead;
    private int _queueCount;
    private bool _drained;

    /// <summary>Reads ops from <paramref name="reader"/> (which the caller owns).</summary>
    public TraceOps(ITraceReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
    }

    /// <summary>
    /// Formats of KVM events the decoder could not use (a needed field missing or not a number), one line each: their
    /// records were not replayed, the rest of the trace was.
    /// </summary>
    public IReadOnlyList<string> FormatErrors => _decoder.FormatErrors;

    /// <summary>What was seen so far.</summary>
    public TraceOpStats Stats { get; } = new();

    /// <summary>The next op; false at the end of the trace.</summary>
    /// <exception cref="TraceFormatException">Damage the reader cannot skip (the message says where).</exception>
    public bool MoveNext(out ReplayOp op)
    {
        while (_queueCount == 0)
        {
            if (_drained)
            {
                op = default;
                return false;
            }

            if (_reader.MoveNext(out var record))
            {
                Accept(record);
            }
            else if (!DrainOne())
            {
                _drained = true;
            }
        }

        op = _queue[_queueHead];
        _queueHead = (_queueHead + 1) & (_queue.Length - 1);
        _queueCount--;
        return true;
    }

    private void Accept(in TraceRecord record)
    {
        var stats = Stats;
        if (stats.Records++ == 0)
        {
            stats.FirstTimestamp = record.Timestamp;
        }

        stats.LastTimestamp = record.Timestamp;
        var kind = _decoder.Classify(record);
        if (kind == KvmEventKind.None)
        {
            return;
        }

        int pid = record.Pid;
        if (kind is KvmEventKind.ProcessFork or KvmEventKind.ProcessExec)
        {
            Track(record, kind);
            return;
        }

        stats.KvmEvents++;
        switch (kind)
        {
            case KvmEventKind.PageFault when _decoder.TryRead(record, out KvmPageFault pf):
                Flush(pid);
                if ((pf.ErrorCode & RmpBit) != 0)
                {
                    stats.RmpBitFaults++;
                    return;
                }

                stats.Faults++;
                if ((pf.ErrorCode & EncBit) != 0)
                {
                    stats.EncryptedFaults++;
                }

                if ((pf.FaultAddress & Tdx.TdxGpa.SharedBits) != 0)
                {
                    stats.TdxSharedBitFaults++;
                }

                ref var fault = ref OpenPending(pid);
                fault = new ReplayOp { Kind = ReplayOpKind.Fault, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp, Gpa = pf.FaultAddress, ErrorCode = pf.ErrorCode, VcpuId = pf.VcpuId };
                return;

            case KvmEventKind.SpteRequested when _decoder.TryRead(record, out KvmMmuSpteRequested spte):
                if (TryPending(pid, out int slot) && SameGfn(_pending[slot].Gpa, spte.Gfn))
                {
                    stats.SpteRequested++;
                    ref var p = ref _pending[slot];
                    p.Outcome = TracedOutcome.Mapped;
                    p.Level = (byte)Math.Clamp(spte.Level, 0, 255);
                    p.Pfn = spte.Pfn;
                    p.HasPfn = true;
                    Flush(pid);
                }
                else
                {
                    stats.UnmatchedSpteRequested++;
                }

                return;

            case KvmEventKind.UserspaceExit when _decoder.TryRead(record, out KvmUserspaceExit exit):
                if (exit.Reason == MemoryFaultExitReason || exit.Errno == -Efault)
                {
                    stats.MemoryFaultExits++;
                    ExitPending(pid);
                }

                Flush(pid);
                if (exit.Reason == HypercallExitReason)
                {
                    stats.HypercallExits++;
                    Enqueue(new ReplayOp { Kind = ReplayOpKind.HypercallExit, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp });
                }

                return;

            case KvmEventKind.QemuMemoryFault:
                // QEMU's view of the same exit; the kernel's kvm_userspace_exit, when traced, came first.
                if (TryPending(pid, out _))
                {
                    stats.MemoryFaultExits++;
                    ExitPending(pid);
                    Flush(pid);
                }

                return;

            case KvmEventKind.RmpFault when _decoder.TryRead(record, out KvmRmpFault rmp):
                Flush(pid);
                stats.RmpFaults++;
                Enqueue(new ReplayOp { Kind = ReplayOpKind.RmpFault, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp, Gpa = rmp.Gpa, Pfn = rmp.Pfn, HasPfn = true, Level = (byte)Math.Clamp(rmp.RmpLevel, 0, 255), ErrorCode = rmp.ErrorCode });
                return;

            case KvmEventKind.SetMemAttributes when _decoder.TryRead(record, out KvmVmSetMemAttributes attr):
                Flush(pid);
                if (attr.End > attr.Start && attr.End <= 1UL << 40)
                {
                    stats.Conversions++;
                    Enqueue(new ReplayOp { Kind = ReplayOpKind.SetAttributes, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp, Gpa = attr.Start << 12, Size = (attr.End - attr.Start) << 12, ToPrivate = (attr.Attr & (ulong)MemoryAttributes.Private) != 0 });
                }

                return;

            case KvmEventKind.QemuConvertMemory when _decoder.TryRead(record, out QemuConvertMemory convert):
                Flush(pid);
                stats.Conversions++;
                Enqueue(new ReplayOp { Kind = ReplayOpKind.Convert, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp, Gpa = convert.Start, Size = convert.Size, ToPrivate = convert.ToPrivate });
                return;

            case KvmEventKind.QemuSetUserMemory when _decoder.TryRead(record, out QemuSetUserMemory memslot):
                Flush(pid);
                if (memslot.Ret != 0 || memslot.AddressSpace is < 0 or > 1 || memslot.Slot is < 0 or > 0xffff)
                {
                    stats.FailedMemslots++;
                    return;
                }

                stats.Memslots++;
                Enqueue(new ReplayOp
                {
                    Kind = ReplayOpKind.SetMemslot,
                    Cpu = record.Cpu,
                    Pid = record.Pid,
                    Process = ProcessOf(record),
                    Timestamp = record.Timestamp,
                    Region = memslot.ToRegion(),
                });
                return;

            case KvmEventKind.QemuSevSnpLaunchUpdate when _decoder.TryRead(record, out QemuSevSnpLaunchUpdate launch):
                Flush(pid);
                stats.LaunchUpdates++;
                Enqueue(new ReplayOp { Kind = ReplayOpKind.LaunchUpdate, Cpu = record.Cpu, Pid = record.Pid, Process = ProcessOf(record), Timestamp = record.Timestamp, Gpa = launch.Gpa, Size = launch.Length });
                return;

            default:
                // Any other KVM event of the thread (kvm_entry, kvm_exit, ...) means its fault ended without a traced outcome.
                if (kind is KvmEventKind.PageFault or KvmEventKind.SpteRequested or KvmEventKind.UserspaceExit or KvmEventKind.RmpFault
                    or KvmEventKind.SetMemAttributes or KvmEventKind.QemuConvertMemory or KvmEventKind.QemuSetUserMemory or KvmEventKind.QemuSevSnpLaunchUpdate)
                {
                    // An event the replay uses that could not be read: a printed form the decoder does not know. Said, not dropped silently.
                    if (stats.Unreadable++ == 0)
                    {
                        stats.FirstUnreadable = $"{record.Format.FullName} at {record.Timestamp / 1e9:F6} s";
                    }
                }

                Flush(pid);
                return;
        }
    }

    /// <summary>The name of a process seen in the ops: its leader thread's comm, else the first of its threads' ("" for process 0).</summary>
    public string ProcessName(int process) => _processNames.TryGetValue(process, out var n) ? n.Name : "";

    /// <summary>
    /// The name of a process as it was when its first op was decoded (what <see cref="ProcessName"/> said then), or
    /// "" for a process without ops. Unlike <see cref="ProcessName"/>, safe to call from another thread while the
    /// trace is being decoded, and the same however far ahead the decoding runs.
    /// </summary>
    public string NameAtFirstOp(int process) => _nameAtFirstOp.GetValueOrDefault(process, "");

    /// <summary>The process of the record's thread (0 when not known).</summary>
    private int ProcessOf(in TraceRecord record)
    {
        int process = record.Tgid;
        if (process != 0)
        {
            if (_processOf.TryAdd(record.Pid, process))
            {
                Stats.ThreadsWithProcess++;
            }
        }
        else if (_processOf.Count == 0 || !_processOf.TryGetValue(record.Pid, out process))
        {
            return 0;
        }

        if (process != _lastNamed || record.Pid == process)
        {
            _lastNamed = process;
            bool leader = record.Pid == process;
            if (!_processNames.TryGetValue(process, out var named) || (leader && !named.FromLeader))
            {
                _processNames[process] = (record.Comm, leader);
            }
        }

        return process;
    }

    private void Track(in TraceRecord record, KvmEventKind kind)
    {
        if (kind == KvmEventKind.ProcessExec && _decoder.TryRead(record, out SchedProcessExec exec) && exec.Pid > 0)
        {
            Set(exec.Pid, exec.Pid);
        }
        else if (kind == KvmEventKind.ProcessFork && _decoder.TryRead(record, out SchedProcessFork fork) && fork.ParentPid > 0 && fork.ChildPid > 0)
        {
            if (!_processOf.TryGetValue(fork.ParentPid, out int process))
            {
                // a creator the trace has not placed: it leads its process (QEMU's main thread, started before the trace)
                process = fork.ParentPid;
                Set(process, process);
            }

            Set(fork.ChildPid, process);
        }

        void Set(int thread, int process)
        {
            ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_processOf, thread, out bool known);
            slot = process;
            Stats.ThreadsWithProcess += known ? 0 : 1;
        }
    }

    private void ExitPending(int pid)
    {
        if (TryPending(pid, out int slot))
        {
            _pending[slot].Outcome = TracedOutcome.MemoryFaultExit;
        }
    }

    /// <summary>The pending slot of a thread, or -1.</summary>
    private int SlotOf(int pid)
    {
        if ((uint)pid < (uint)_slotOfPid.Length)
        {
            return _slotOfPid[pid] - 1;
        }

        return (uint)pid >= DirectPids && _slotOfOtherPid.TryGetValue(pid, out int slot) ? slot : -1;
    }

    /// <summary>
    /// True when the fault at <paramref name="gpa"/> is the one <c>kvm_mmu_spte_requested</c> names by
    /// <paramref name="gfn"/>: the same frame, or the same once a TD's shared bit (GPA bit 47 or 51, which KVM's fault
    /// gfn leaves out: <c>kvm_gfn_direct_bits</c>, 6.16) is dropped.
    /// </summary>
    private static bool SameGfn(ulong gpa, ulong gfn)
    {
        ulong stripped = gpa;
        Tdx.TdxGpa.StripSharedBit(ref stripped);
        return gpa >> 12 == gfn || stripped >> 12 == gfn;
    }

    private bool TryPending(int pid, out int slot)
    {
        slot = SlotOf(pid);
        return slot >= 0 && _pendingActive[slot];
    }

    private ref ReplayOp OpenPending(int pid)
    {
        int slot = SlotOf(pid);
        if (slot < 0)
        {
            slot = _slots++;
            if (slot == _pending.Length)
            {
                Array.Resize(ref _pending, slot * 2);
                Array.Resize(ref _pendingActive, slot * 2);
            }

            if ((uint)pid < DirectPids)
            {
                if (pid >= _slotOfPid.Length)
                {
                    Array.Resize(ref _slotOfPid, (int)Math.Min(DirectPids, BitOperations.RoundUpToPowerOf2((uint)pid + 1)));
                }

                _slotOfPid[pid] = slot + 1;
            }
            else
            {
                _slotOfOtherPid.Add(pid, slot);
            }
        }

        _pendingActive[slot] = true;
        return ref _pending[slot];
    }

    private void Flush(int pid)
    {
        if (TryPending(pid, out int slot))
        {
            _pendingActive[slot] = false;
            Enqueue(_pending[slot]);
        }
    }

    /// <summary>At the end of the trace, hands out the faults still waiting for an outcome, one at a time.</summary>
    private bool DrainOne()
    {
        for (int slot = 0; slot < _slots; slot++)
        {
            if (_pendingActive[slot])
            {
                _pendingActive[slot] = false;
                Enqueue(_pending[slot]);
                return true;
            }
        }

        return false;
    }

    private void Enqueue(in ReplayOp op)
    {
        if (_queueCount == _queue.Length)
        {
            throw new InvalidOperationException("replay op queue overflow"); // one record yields at most two ops
        }

        _queue[(_queueHead + _queueCount) & (_queue.Length - 1)] = op;
        _queueCount++;
        if (op.Process != _lastEnqueued)
        {
            _lastEnqueued = op.Process;
            _nameAtFirstOp.TryAdd(op.Process, ProcessName(op.Process));
        }
    }
}
