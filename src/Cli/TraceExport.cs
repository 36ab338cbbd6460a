using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Cli;

/// <summary>
/// <c>--export-trace</c>: the model's run as a trace.dat (kvm_page_fault, kvm_mmu_spte_requested with the model's
/// level and pfn, kvm_rmp_fault, kvm_userspace_exit, kvm_vm_set_mem_attributes, and QEMU's conversions and launch
/// updates as ftrace markers) on the traced CPUs, threads and timestamps, so KernelShark or <c>trace-cmd report</c>
/// show it next to the real trace, and <c>fastrmp replay</c> reads it back.
/// </summary>
/// <remarks>
/// Events a replay applies late (a fault waits for its outcome) keep their CPU's time order by taking the CPU's latest
/// timestamp. Faults keep their traced <c>vcpu_id</c>, and the RMP faults of a thread take its last fault's. The
/// cmdlines name each thread written: by the name the trace gave it (<see cref="Save"/>'s names: QEMU processes),
/// else a thread that faulted as QEMU names its vCPU threads, <c>CPU n/KVM</c> (an inference, from the vcpu_id).
/// </remarks>
internal sealed class TraceExport : IReplayRecorder
{
    private const uint MemoryFaultExitReason = 39;
    private const int Efault = 14;
    private readonly KvmTraceWriter _writer;
    private readonly ulong[] _last;
    private readonly Dictionary<int, uint> _vcpus = [];
    private readonly HashSet<int> _threads = [];

    public TraceExport(int cpus)
    {
        _last = new ulong[Math.Clamp(cpus, 1, 1024)];
        _writer = new KvmTraceWriter(new TraceDatWriterOptions(Version: 7, Compression: "zstd", Cpus: _last.Length));
    }

    public long Events { get; private set; }

    public void Fault(ulong timestamp, int cpu, int pid, uint vcpuId, ulong gpa, ulong errorCode)
    {
        _vcpus[pid] = vcpuId;
        _writer.PageFault(Cpu(cpu), At(cpu, timestamp, pid), pid, vcpuId, gpa, errorCode);
    }

    public void Mapped(ulong timestamp, int cpu, int pid, ulong gfn, ulong pfn, int level)
        => _writer.SpteRequested(Cpu(cpu), At(cpu, timestamp, pid), pid, gfn, pfn, level);

    public void MemoryFaultExit(ulong timestamp, int cpu, int pid)
        => _writer.UserspaceExit(Cpu(cpu), At(cpu, timestamp, pid), pid, MemoryFaultExitReason, -Efault);

    public void RmpFault(ulong timestamp, int cpu, int pid, ulong gpa, ulong pfn, int rmpLevel)
        => _writer.RmpFault(Cpu(cpu), At(cpu, timestamp, pid), pid, _vcpus.GetValueOrDefault(pid), gpa, pfn, 0, rmpLevel, 0);

    public void Attributes(ulong timestamp, int cpu, int pid, ulong startGfn, ulong endGfn, bool isPrivate)
        => _writer.SetMemAttributes(Cpu(cpu), At(cpu, timestamp, pid), pid, startGfn, endGfn, isPrivate ? 8UL : 0);

    public void Convert(ulong timestamp, int cpu, int pid, ulong gpa, ulong size, bool toPrivate)
        => _writer.QemuEvent(Cpu(cpu), At(cpu, timestamp, pid), pid, $"kvm_convert_memory start 0x{gpa:x} size 0x{size:x} {(toPrivate ? "to_private" : "to_shared")}");

    public void LaunchUpdate(ulong timestamp, int cpu, int pid, ulong gpa, ulong length)
        => _writer.QemuEvent(Cpu(cpu), At(cpu, timestamp, pid), pid, $"kvm_sev_snp_launch_update src 0x0 gpa 0x{gpa:x} len 0x{length:x} (Normal page)");

    /// <summary>Writes the trace; <paramref name="names"/> gives a thread's name as traced, or "" when the trace did not say.</summary>
    public void Save(FileInfo file, Func<int, string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        foreach (int pid in _threads)
        {
            string name = names(pid);
            if (name.Length == 0 && _vcpus.TryGetValue(pid, out uint vcpu))
            {
                name = $"CPU {vcpu}/KVM";
            }

            if (name.Length > 0)
            {
                _writer.Writer.AddCmdline(pid, name);
            }
        }

        Reports.ReportFile.WriteStream(file, "--export-trace", _writer.Writer.WriteTo);
    }

    private int Cpu(int cpu) => (int)((uint)cpu % (uint)_last.Length);

    private ulong At(int cpu, ulong timestamp, int pid)
    {
        Events++;
        _threads.Add(pid);
        ref ulong last = ref _last[Cpu(cpu)];
        last = Math.Max(last, timestamp);
        return last;
    }
}
