using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Cli;

/// <summary>
/// <c>--export-trace</c>: the model's run as a trace.dat (kvm_page_fault, kvm_mmu_spte_requested with the model's
/// level and pfn, kvm_rmp_fault, kvm_userspace_exit, kvm_vm_set_mem_attributes, and QEMU's conversions and launch
/// updates as ftrace markers) on the traced CPUs, threads and timestamps, so KernelShark or <c>trace-cmd report</c>
/// show it next to the real trace, and <c>fastrmp replay</c> reads it back.
/// </summary>
/// <remarks>Events a replay applies late (a fault waits for its outcome) keep their CPU's time order by taking the CPU's latest timestamp.</remarks>
internal sealed class TraceExport : IReplayRecorder
{
    private const uint MemoryFaultExitReason = 39;
    private const int Efault = 14;
    private readonly KvmTraceWriter _writer;
    private readonly ulong[] _last;

    public TraceExport(int cpus)
    {
        _last = new ulong[Math.Clamp(cpus, 1, 1024)];
        _writer = new KvmTraceWriter(new TraceDatWriterOptions(Version: 7, Compression: "zstd", Cpus: _last.Length));
    }

    public long Events { get; private set; }

    public void Fault(ulong timestamp, int cpu, int pid, ulong gpa, ulong errorCode)
        => _writer.PageFault(Cpu(cpu), At(cpu, timestamp), pid, 0, gpa, errorCode);

    public void Mapped(ulong timestamp, int cpu, int pid, ulong gfn, ulong pfn, int level)
        => _writer.SpteRequested(Cpu(cpu), At(cpu, timestamp), pid, gfn, pfn, level);

    public void MemoryFaultExit(ulong timestamp, int cpu, int pid)
        => _writer.UserspaceExit(Cpu(cpu), At(cpu, timestamp), pid, MemoryFaultExitReason, -Efault);

    public void RmpFault(ulong timestamp, int cpu, int pid, ulong gpa, ulong pfn, int rmpLevel)
        => _writer.RmpFault(Cpu(cpu), At(cpu, timestamp), pid, 0, gpa, pfn, 0, rmpLevel, 0);

    public void Attributes(ulong timestamp, int cpu, int pid, ulong startGfn, ulong endGfn, bool isPrivate)
        => _writer.SetMemAttributes(Cpu(cpu), At(cpu, timestamp), pid, startGfn, endGfn, isPrivate ? 8UL : 0);

    public void Convert(ulong timestamp, int cpu, int pid, ulong gpa, ulong size, bool toPrivate)
        => _writer.QemuEvent(Cpu(cpu), At(cpu, timestamp), pid, $"kvm_convert_memory start 0x{gpa:x} size 0x{size:x} {(toPrivate ? "to_private" : "to_shared")}");

    public void LaunchUpdate(ulong timestamp, int cpu, int pid, ulong gpa, ulong length)
        => _writer.QemuEvent(Cpu(cpu), At(cpu, timestamp), pid, $"kvm_sev_snp_launch_update src 0x0 gpa 0x{gpa:x} len 0x{length:x} (Normal page)");

    public void Save(FileInfo file) => Reports.ReportFile.WriteStream(file, "--export-trace", _writer.Writer.WriteTo);

    private int Cpu(int cpu) => (int)((uint)cpu % (uint)_last.Length);

    private ulong At(int cpu, ulong timestamp)
    {
        Events++;
        ref ulong last = ref _last[Cpu(cpu)];
        last = Math.Max(last, timestamp);
        return last;
    }
}
