namespace FastRmp.Interop.Tracing.Writing;

/// <summary>
/// Writes KVM host traces as trace.dat: typed kvm/kvmmmu events with the Linux 6.18 record layouts, QEMU's
/// ftrace-backend markers, and the sched events that place threads in processes, for generated test traces and for exporting a simulated run
/// (<c>fastrmp replay --export-trace</c>).
/// </summary>
/// <remarks>
/// Field offsets and sizes are those of traces.md 1.5 and kernel-domain.md 6.2-6.4 (checked against the 6.18 tracefs
/// formats); kvm_rmp_fault and kvm_vm_set_mem_attributes follow the SNP and memory-attribute tracepoints' field lists
/// there. The print formats are shortened (no symbol tables), so <c>trace-cmd report</c> prints numbers where the
/// kernel prints names. Records are kept in memory until <see cref="Save"/>. Timestamps must not decrease per CPU.
/// </remarks>
public sealed class KvmTraceWriter
{
    private const string Common = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
        + "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    private readonly TraceDatWriter _writer;
    private readonly Event _pageFault, _spte, _exit, _entry, _userspaceExit, _rmpFault, _attributes, _print, _fork, _exec;

    /// <summary>Creates a writer for <paramref name="options"/> (version, compression, CPUs).</summary>
    public KvmTraceWriter(TraceDatWriterOptions options)
    {
        _writer = new TraceDatWriter(options);
        bool be = options.BigEndian;
        _pageFault = new Event(_writer, "kvm", Format("kvm_page_fault", 100,
            "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:u64 fault_address;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:u64 error_code;\toffset:32;\tsize:8;\tsigned:0;\n",
            "\"vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx\", REC->vcpu_id, REC->guest_rip, REC->fault_address, REC->error_code"), be);
        _spte = new Event(_writer, "kvmmmu", Format("kvm_mmu_spte_requested", 118,
            "\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u64 pfn;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u8 level;\toffset:24;\tsize:1;\tsigned:0;\n",
            "\"gfn %llx pfn %llx level %d\", REC->gfn, REC->pfn, REC->level"), be);
        _exit = new Event(_writer, "kvm", Format("kvm_exit", 103,
            "\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;\n\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;\n"
            + "\tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;\n\tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;\n"
            + "\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;\n\tfield:u64 requests;\toffset:64;\tsize:8;\tsigned:0;\n",
            "\"vcpu %u reason 0x%x rip 0x%lx info1 0x%016llx info2 0x%016llx\", REC->vcpu_id, REC->exit_reason, REC->guest_rip, REC->info1, REC->info2"), be);
        _entry = new Event(_writer, "kvm", Format("kvm_entry", 115,
            "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;\n\tfield:u32 intr_info;\toffset:28;\tsize:4;\tsigned:0;\n"
            + "\tfield:u32 error_code;\toffset:32;\tsize:4;\tsigned:0;\n",
            "\"vcpu %u, rip 0x%lx\", REC->vcpu_id, REC->rip"), be);
        _userspaceExit = new Event(_writer, "kvm", Format("kvm_userspace_exit", 42,
            "\tfield:__u32 reason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;\n",
            "\"reason %u (%d)\", REC->reason, REC->errno"), be);
        _rmpFault = new Event(_writer, "kvm", Format("kvm_rmp_fault", 160,
            "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:u64 gpa;\toffset:16;\tsize:8;\tsigned:0;\n"
            + "\tfield:u64 pfn;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:u64 error_code;\toffset:32;\tsize:8;\tsigned:0;\n"
            + "\tfield:int rmp_level;\toffset:40;\tsize:4;\tsigned:1;\n\tfield:int psmash_ret;\toffset:44;\tsize:4;\tsigned:1;\n",
            "\"vcpu %u gpa %016llx pfn 0x%llx error_code 0x%llx rmp_level %d psmash_ret %d\", REC->vcpu_id, REC->gpa, REC->pfn, REC->error_code, REC->rmp_level, REC->psmash_ret"), be);
        _attributes = new Event(_writer, "kvm", Format("kvm_vm_set_mem_attributes", 161,
            "\tfield:gfn_t start;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:gfn_t end;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:unsigned long attr;\toffset:24;\tsize:8;\tsigned:0;\n",
            "\"%#016llx -- %#016llx [0x%lx]\", REC->start, REC->end, REC->attr"), be);
        _print = new Event(_writer, "ftrace", Format("print", 5,
            "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n",
            "\"%ps: %s\", (void *)REC->ip, REC->buf"), be, extra: 512);

        // sched:sched_process_fork / sched_process_exec as the 6.18 VM recording's formats have them (tracecmd-dat samples)
        _fork = new Event(_writer, "sched", Format("sched_process_fork", 366,
            "\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
            + "\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n",
            "\"comm=%s pid=%d child_comm=%s child_pid=%d\", __get_str(parent_comm), REC->parent_pid, __get_str(child_comm), REC->child_pid"), be, extra: 64);
        _exec = new Event(_writer, "sched", Format("sched_process_exec", 365,
            "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n"
            + "\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n",
            "\"filename=%s pid=%d old_pid=%d\", __get_str(filename), REC->pid, REC->old_pid"), be, extra: 256);
    }

    /// <summary>The underlying writer (more formats, cmdlines, options).</summary>
    public TraceDatWriter Writer => _writer;

    /// <summary>kvm:kvm_page_fault.</summary>
    public void PageFault(int cpu, ulong timestamp, int pid, uint vcpu, ulong gpa, ulong errorCode)
        => _pageFault.Start(pid).Set(0, vcpu).Set(2, gpa).Set(3, errorCode).Add(cpu, timestamp);

    /// <summary>kvmmmu:kvm_mmu_spte_requested (level: 1 4K, 2 2M, 3 1G).</summary>
    public void SpteRequested(int cpu, ulong timestamp, int pid, ulong gfn, ulong pfn, int level)
        => _spte.Start(pid).Set(0, gfn).Set(1, pfn).Set(2, (ulong)level).Add(cpu, timestamp);

    /// <summary>kvm:kvm_exit on SVM (isa 2); for an #NPF the reason is 0x400, info1 the error code, info2 the GPA.</summary>
    public void Exit(int cpu, ulong timestamp, int pid, uint vcpu, uint reason, ulong info1, ulong info2)
        => _exit.Start(pid).Set(0, reason).Set(2, 2).Set(3, info1).Set(4, info2).Set(7, vcpu).Add(cpu, timestamp);

    /// <summary>kvm:kvm_entry.</summary>
    public void Entry(int cpu, ulong timestamp, int pid, uint vcpu) => _entry.Start(pid).Set(0, vcpu).Add(cpu, timestamp);

    /// <summary>kvm:kvm_userspace_exit (a memory-fault exit is reason 39, errno -14).</summary>
    public void UserspaceExit(int cpu, ulong timestamp, int pid, uint reason, int errno)
        => _userspaceExit.Start(pid).Set(0, reason).Set(1, (ulong)(uint)errno).Add(cpu, timestamp);

    /// <summary>kvm:kvm_rmp_fault.</summary>
    public void RmpFault(int cpu, ulong timestamp, int pid, uint vcpu, ulong gpa, ulong pfn, ulong errorCode, int rmpLevel, int psmashRet)
        => _rmpFault.Start(pid).Set(0, vcpu).Set(1, gpa).Set(2, pfn).Set(3, errorCode).Set(4, (ulong)(uint)rmpLevel).Set(5, (ulong)(uint)psmashRet).Add(cpu, timestamp);

    /// <summary>kvm:kvm_vm_set_mem_attributes for gfns [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public void SetMemAttributes(int cpu, ulong timestamp, int pid, ulong start, ulong end, ulong attributes)
        => _attributes.Start(pid).Set(0, start).Set(1, end).Set(2, attributes).Add(cpu, timestamp);

    /// <summary>A QEMU trace event through the ftrace backend (<c>trace_marker</c>): <c>"name args\n"</c> in ftrace:print.</summary>
    public void QemuEvent(int cpu, ulong timestamp, int pid, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var b = _print.Start(pid);
        b.Builder.Set(b.Fields[0], 0xffffffff81000000).SetString("buf", text.EndsWith('\n') ? text : text + "\n");
        b.Add(cpu, timestamp);
    }

    /// <summary>sched:sched_process_fork: <paramref name="parentPid"/> made <paramref name="childPid"/> (recorded by the parent).</summary>
    public void ProcessFork(int cpu, ulong timestamp, int parentPid, string parentComm, int childPid, string childComm)
    {
        var b = _fork.Start(parentPid);
        b.Builder.SetString("parent_comm", parentComm).SetString("child_comm", childComm);
        b.Set(1, (ulong)(uint)parentPid).Set(3, (ulong)(uint)childPid).Add(cpu, timestamp);
    }

    /// <summary>sched:sched_process_exec: <paramref name="pid"/> runs <paramref name="filename"/>.</summary>
    public void ProcessExec(int cpu, ulong timestamp, int pid, string filename)
    {
        var b = _exec.Start(pid);
        b.Builder.SetString("filename", filename);
        b.Set(1, (ulong)(uint)pid).Set(2, (ulong)(uint)pid).Add(cpu, timestamp);
    }

    /// <summary>Writes the file.</summary>
    public void Save(string path) => _writer.Save(path);

    private static string Format(string name, int id, string fields, string print)
        => $"name: {name}\nID: {id}\nformat:\n{Common}{fields}\nprint fmt: {print}\n";

    private sealed class Event
    {
        private readonly TraceDatWriter _writer;
        private readonly EventField _pid;

        public Event(TraceDatWriter writer, string system, string text, bool bigEndian, int extra = 0)
        {
            _writer = writer;
            var format = writer.AddFormat(system, text);
            Builder = new RecordBuilder(format, extra, bigEndian);
            _pid = format.Require("common_pid");
            Fields = [.. format.Fields.Where(f => !f.Name.StartsWith("common_", StringComparison.Ordinal))];
        }

        public RecordBuilder Builder { get; }

        public EventField[] Fields { get; }

        public Event Start(int pid)
        {
            Builder.Reset().Set(_pid, (ulong)(uint)pid);
            return this;
        }

        public Event Set(int field, ulong value)
        {
            Builder.Set(Fields[field], value);
            return this;
        }

        public void Add(int cpu, ulong timestamp) => _writer.AddRecord(cpu, timestamp, Builder.Bytes);
    }
}
