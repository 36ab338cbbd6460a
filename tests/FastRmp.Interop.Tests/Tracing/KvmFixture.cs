using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>Generates trace.dat fixtures with real 6.18 kvm/kvmmmu formats and a deterministic fault chain.</summary>
internal static class KvmFixture
{
    // ftrace:print as on 6.18 (ID 5), needed for QEMU's trace_marker records.
    public const string PrintFormat = "name: print\nID: 5\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
        + "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n\nprint fmt: \"%ps: %s\", (void *)REC->ip, REC->buf\n";

    private static readonly string[] s_events = ["kvm_exit", "kvm_page_fault", "kvm_mmu_spte_requested", "kvm_tdp_mmu_spte_changed", "kvm_mmu_set_spte", "kvm_entry"];

    /// <summary>Writes <paramref name="faults"/> fault chains (6 kernel records each) on 2 CPUs plus two QEMU markers; returns the record count.</summary>
    public static int Write(string path, TraceDatWriterOptions options, int faults, int seed = 1)
    {
        var w = new TraceDatWriter(options with { Cpus = 2 });
        var text = File.ReadAllText(Samples.Path_("tracefs-formats-linux-6.18/kvm_kvmmmu_formats.txt"));
        var builders = new Dictionary<string, RecordBuilder>();
        foreach (var block in text.Split("### ", StringSplitOptions.RemoveEmptyEntries))
        {
            int nl = block.IndexOf('\n', StringComparison.Ordinal);
            string[] name = block[..nl].Trim().Split('/');
            if (name.Length == 2 && s_events.Contains(name[1]))
            {
                builders[name[1]] = new RecordBuilder(w.AddFormat(name[0], block[(nl + 1)..]), 0, options.BigEndian);
            }
        }

        var print = new RecordBuilder(w.AddFormat("ftrace", PrintFormat), 512, options.BigEndian);
        w.AddCmdline(4242, "CPU 0/KVM");
        w.AddCmdline(4243, "CPU 1/KVM");
        w.AddCmdline(4000, "qemu-system-x86");
        var rng = new Random(seed);
        ulong[] ts = [1_000_000_000, 1_000_000_500];
        int count = 0;
        foreach (var (cpu, msg) in new[] { (0, "kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x4 gpa=0x100000000 size=0x80000000 ua=0x7f0000000000 guest_memfd=27 guest_memfd_offset=0x0 ret=0\n"), (1, "kvm_convert_memory start 0x100000000 size 0x200000 to_private\n") })
        {
            print.Reset().Set("common_pid", 4000).Set("ip", 0xffffffff814aa001).SetString("buf", msg);
            w.AddRecord(cpu, ts[cpu]++, print.Bytes);
            count++;
        }

        for (int i = 0; i < faults; i++)
        {
            int cpu = i % 2;
            int pid = 4242 + cpu;
            ulong gfn = 0x100000 + (ulong)rng.Next(0, 1 << 20);
            ulong pfn = 0x200000 + (ulong)rng.Next(0, 1 << 24);
            ulong code = rng.Next(2) == 0 ? 0x500000004UL : 0x100000006UL;
            // occasional gaps longer than 2^27 ns force TIME_EXTEND entries
            ts[cpu] += rng.Next(20) == 0 ? (ulong)rng.Next(200_000_000, 900_000_000) : (ulong)rng.Next(100, 5000);
            Add("kvm_exit", b => b.Set("exit_reason", 0x400).Set("guest_rip", 0).Set("isa", 2).Set("info1", code).Set("info2", gfn << 12).Set("vcpu_id", (ulong)cpu));
            Add("kvm_page_fault", b => b.Set("vcpu_id", (ulong)cpu).Set("guest_rip", 0).Set("fault_address", gfn << 12).Set("error_code", code));
            Add("kvm_mmu_spte_requested", b => b.Set("gfn", gfn).Set("pfn", pfn).Set("level", 1));
            Add("kvm_tdp_mmu_spte_changed", b => b.Set("gfn", gfn).Set("old_spte", 0x5a0).Set("new_spte", (pfn << 12) | 0x867).Set("level", 1).Set("as_id", 0));
            Add("kvm_mmu_set_spte", b => b.Set("gfn", gfn).Set("spte", (pfn << 12) | 0x867).Set("sptep", 0x1f2e3d008).Set("level", 1).Set("r", 1).Set("x", 1).Set("u", 1));
            Add("kvm_entry", b => b.Set("vcpu_id", (ulong)cpu).Set("rip", 0));

            void Add(string ev, Action<RecordBuilder> set)
            {
                var b = builders[ev].Reset().Set("common_pid", (ulong)pid);
                set(b);
                w.AddRecord(cpu, ts[cpu], b.Bytes);
                ts[cpu] += (ulong)rng.Next(1, 300);
                count++;
            }
        }

        w.Save(path);
        return count;
    }
}
