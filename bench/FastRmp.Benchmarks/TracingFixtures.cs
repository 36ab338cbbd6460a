using System.Text;
using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Benchmarks;

/// <summary>Self-contained trace fixtures for the tracing suites (formats as on Linux 6.18, see traces.md 1.5).</summary>
internal static class TracingFixtures
{
    private const string Common = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
        + "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    public static readonly string PageFault = "name: kvm_page_fault\nID: 100\nformat:\n" + Common
        + "\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
        + "\tfield:u64 fault_address;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:u64 error_code;\toffset:32;\tsize:8;\tsigned:0;\n\n"
        + "print fmt: \"vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx\", REC->vcpu_id, REC->guest_rip, REC->fault_address, REC->error_code\n";

    public static readonly string SpteRequested = "name: kvm_mmu_spte_requested\nID: 1500\nformat:\n" + Common
        + "\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u64 pfn;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u8 level;\toffset:24;\tsize:1;\tsigned:0;\n\n"
        + "print fmt: \"gfn %llx pfn %llx level %d\", REC->gfn, REC->pfn, REC->level\n";

    public static readonly string SetSpte = "name: kvm_mmu_set_spte\nID: 1501\nformat:\n" + Common
        + "\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:u64 spte;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u64 sptep;\toffset:24;\tsize:8;\tsigned:0;\n"
        + "\tfield:u8 level;\toffset:32;\tsize:1;\tsigned:0;\n\tfield:bool r;\toffset:33;\tsize:1;\tsigned:0;\n\tfield:bool x;\toffset:34;\tsize:1;\tsigned:0;\n"
        + "\tfield:signed char u;\toffset:35;\tsize:1;\tsigned:1;\n\nprint fmt: \"gfn %llx spte %llx level %d at %llx\", REC->gfn, REC->spte, REC->level, REC->sptep\n";

    /// <summary>Writes a trace.dat of <paramref name="faults"/> fault chains (3 records each) on 4 CPUs.</summary>
    public static void WriteDat(string path, string compression, int faults)
    {
        var w = new TraceDatWriter(new TraceDatWriterOptions(7, compression, 4));
        var pf = new RecordBuilder(w.AddFormat("kvm", PageFault));
        var req = new RecordBuilder(w.AddFormat("kvmmmu", SpteRequested));
        var set = new RecordBuilder(w.AddFormat("kvmmmu", SetSpte));
        var rng = new Random(7);
        var ts = new ulong[4];
        for (int i = 0; i < faults; i++)
        {
            int cpu = i % 4;
            ulong gfn = (ulong)rng.Next(1 << 24);
            ulong pfn = (ulong)rng.Next(1 << 28);
            w.AddRecord(cpu, ts[cpu] += (ulong)rng.Next(100, 3000), pf.Reset().Set("common_pid", 4000).Set("vcpu_id", (ulong)cpu).Set("fault_address", gfn << 12).Set("error_code", 0x500000004).Bytes);
            w.AddRecord(cpu, ts[cpu] += 40, req.Reset().Set("common_pid", 4000).Set("gfn", gfn).Set("pfn", pfn).Set("level", 1).Bytes);
            w.AddRecord(cpu, ts[cpu] += 40, set.Reset().Set("common_pid", 4000).Set("gfn", gfn).Set("spte", (pfn << 12) | 0x867).Set("sptep", 0x1f2e3d008).Set("level", 1).Set("r", 1).Set("x", 1).Set("u", 1).Bytes);
        }

        w.Save(path);
    }

    /// <summary>tracefs <c>trace</c> text with <paramref name="lines"/> KVM event lines (comms with spaces, 5-char flags).</summary>
    public static byte[] TracefsText(int lines)
    {
        var sb = new StringBuilder("# tracer: nop\n#\n");
        var rng = new Random(3);
        ulong us = 86_581_928;
        for (int i = 0; i < lines; i++)
        {
            us += (ulong)rng.Next(1, 50);
            int vcpu = i % 8;
            string head = $"       CPU {vcpu}/KVM-{4145 + vcpu,-7} [{vcpu:D3}] ..... {us / 1_000_000,5}.{us % 1_000_000:D6}: ";
            ulong gfn = (ulong)rng.Next(1 << 24);
            sb.Append(head).Append((i % 3) switch
            {
                0 => $"kvm_page_fault: vcpu {vcpu} rip 0x7f08a4602116 address 0x{gfn << 12:x16} error_code 0x500000004\n",
                1 => $"kvm_mmu_spte_requested: gfn {gfn:x} pfn {gfn + 0x100000:x} level 1\n",
                _ => $"kvm_mmu_set_spte: gfn {gfn:x} spte {((gfn + 0x100000) << 12) | 0x867:x} (rwxu) level 1 at 1f2e3d008\n",
            });
        }

        return Encoding.ASCII.GetBytes(sb.ToString());
    }
}
