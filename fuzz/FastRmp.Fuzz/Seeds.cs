using System.IO.Compression;
using System.Text;
using FastRmp.Interop.Tracing.Writing;
using FastRmp.Tests.Common;

namespace FastRmp.Fuzz;

/// <summary>
/// Seed inputs: trace.dat files made by the project's writers (<see cref="KvmTraceWriter"/>,
/// <see cref="SnpTraceFixture"/>), text written here in each form the readers accept, and, when the samples folder
/// is beside the repository (../shared/samples), its files as extra seeds read at run time (never committed).
/// </summary>
public static class Seeds
{
    private const string Slot = "kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0";

    /// <summary>trace.dat v6 and v7, uncompressed, zlib and zstd, little- and big-endian.</summary>
    public static IReadOnlyList<byte[]> TraceDat(bool samples = true) =>
    [
        SmallSnp(new TraceDatWriterOptions(6, "none", 2)),
        SmallSnp(new TraceDatWriterOptions(7, "none", 2)),
        SmallSnp(new TraceDatWriterOptions(7, "zlib", 2)),
        SmallSnp(new TraceDatWriterOptions(7, "zstd", 2)),
        SmallSnp(new TraceDatWriterOptions(7, "none", 1, BigEndian: true)),
        .. Samples(samples, "tracecmd-dat", "*.dat", 256 << 10),
    ];

    /// <summary>tracefs <c>trace</c> text: default columns, with tgid, raw.</summary>
    public static IReadOnlyList<byte[]> Tracefs(bool samples = true) =>
    [
        Utf8("# tracer: nop\n#\n# entries-in-buffer/entries-written: 6/6   #P:2\n#\n"
            + " qemu-system-x86-7000    [000] .....   1.000000: tracing_mark_write: " + Slot + "\n"
            + "       CPU 0/KVM-7001    [001] d..1.   1.000010: kvm_exit: vcpu 0 reason NPF rip 0xfff0 info1 0x0000000500000004 info2 0x0000000000200000 intr_info 0x00000000 error_code 0x00000000\n"
            + "       CPU 0/KVM-7001    [001] .....   1.000011: kvm_page_fault: vcpu 0 rip 0xfff0 address 0x0000000000200000 error_code 0x500000004\n"
            + "       CPU 0/KVM-7001    [001] .....   1.000012: kvm_mmu_spte_requested: gfn 200 pfn 12345 level 1\n"
            + "       CPU 0/KVM-7001    [001] .....   1.000013: kvm_vm_set_mem_attributes: 0x200 -- 0x201 [0x8]\n"
            + "       CPU 0/KVM-7001    [001] d..1.   1.000014: kvm_entry: vcpu 0, rip 0xfff0\n"),
        Utf8("# tracer: nop\n#\n#                                      _-----=> irqs-off/BH-disabled\n"
            + " qemu-system-x86-7000  (   7000) [000] .....   2.000000: tracing_mark_write: kvm_convert_memory start 0x200000 size 0x1000 to_shared\n"
            + "       CPU 0/KVM-7001  (   7000) [001] .....   2.000001: kvm_userspace_exit: reason KVM_EXIT_MEMORY_FAULT (39)\n"
            + "       CPU 0/KVM-7001  (-------) [001] .....   2.000002: kvm_page_fault: vcpu 0 rip 0x0 address 0x201000 error_code 0x100000006\n"),
        Utf8("# tracer: nop\n"
            + "           <...>-7001  [001]   3.000000: kvm_mmu_spte_requested: gfn 200 pfn 12345 level 1\n"
            + "           <...>-7001  [001]   3.000001: kvm_page_fault: vcpu 0 rip 0x0 address 0x201000 error_code 0x500000004\n"),
        .. Samples(samples, "text-local", "tracefs-*.txt", 64 << 10),
    ];

    /// <summary>trace-cmd report text: default, <c>-t</c> nanoseconds, <c>-R</c> raw.</summary>
    public static IReadOnlyList<byte[]> Report(bool samples = true) =>
    [
        Utf8("cpus=2\n"
            + " qemu-system-x86-7000  [000]     1.000000000: print:                tracing_mark_write: " + Slot + "\n"
            + "       CPU 0/KVM-7001  [001]     1.000010000: kvm_page_fault:       vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n"
            + "       CPU 0/KVM-7001  [001]     1.000011000: kvm_mmu_spte_requested: gfn 200 pfn 12345 level 1\n"
            + "       CPU 0/KVM-7001  [001]     1.000012000: kvm_entry:            vcpu 0, rip 0x0\n"),
        Utf8("cpus=1\n"
            + "       CPU 0/KVM-7001 [000]  1093.377898313: kvm_page_fault:         vcpu=0 rip=0x0 address=0x201000 error_code=0x500000006\n"
            + "       CPU 0/KVM-7001 [000]  1093.377898400: kvm_mmu_spte_requested: gfn=0x201 pfn=0x1234 level=1\n"),
        .. Samples(samples, "text-local", "report-*.txt", 64 << 10),
    ];

    /// <summary>perf script text: default and <c>-F</c> forms, with the system prefix.</summary>
    public static IReadOnlyList<byte[]> PerfScript(bool samples = true) =>
    [
        Utf8("       CPU 0/KVM  7001/7002 [001]  1234.452311889:                 kvm:kvm_page_fault: vcpu 0 rip 0x0 address 0x200000 error_code 0x500000004\n"
            + "       CPU 0/KVM  7001/7002 [001]  1234.452311900:         kvmmmu:kvm_mmu_spte_requested: gfn 200 pfn 12345 level 1\n"
            + "  qemu-system-x86  7001/7001 [000]  1234.452312000:                 ftrace:print: tracing_mark_write: " + Slot + "\n"),
        Utf8("       CPU 0/KVM 7002 [001] 1234.452311: kvm:kvm_exit: vcpu 0 reason NPF rip 0x0 info1 0x500000004 info2 0x200000 intr_info 0x0 error_code 0x0\n"
            + "       CPU 0/KVM 7002 [001] 1234.452312: kvm:kvm_entry: vcpu 0, rip 0x0\n"),
        .. Samples(samples, "perf", "*.txt", 64 << 10),
    ];

    /// <summary>perf.data, file and pipe mode, both byte orders, with the records real recordings rarely show.</summary>
    public static IReadOnlyList<byte[]> PerfData(bool samples = true)
    {
        var seeds = new List<byte[]>();
        foreach (bool bigEndian in new[] { false, true })
        {
            var b = new FastRmp.Interop.Tests.Tracing.Perf.PerfDataBuilder(bigEndian) { WithOtherAttr = bigEndian };
            b.Comm(100, 7000, 7000, "qemu-system-x86").Fork(110, 7000, 7000, 7001, 7000).Comm(120, 7000, 7001, "CPU 0/KVM")
                .Sample(200, 1, 7000, 7001, 39, -14).Sample(150, 0, 7000, 7001, 2, 0).Round()
                .Lost(3, 300).Throttle(true, 310).Throttle(false, 320).Sample(400, 1, 7000, 7001, 39, 0).Round();
            seeds.Add(b.Build());
            seeds.Add(b.BuildPipe());
        }

        seeds.AddRange(Samples(samples, "perf", "*.data", 256 << 10));
        return seeds;
    }

    /// <summary>A trace.dat and a text trace, each gzip-, xz-less and zstd-compressed (what a pipe may carry).</summary>
    public static IReadOnlyList<byte[]> Compressed(bool samples = true)
    {
        var seeds = new List<byte[]>();
        foreach (byte[] plain in new[] { SmallSnp(new TraceDatWriterOptions(7, "none", 2)), Tracefs(false)[0] })
        {
            seeds.Add(Gzip(plain));
            seeds.Add(Zstd(plain));
        }

        return seeds;
    }

    /// <summary>tracefs event format files.</summary>
    public static IReadOnlyList<byte[]> FormatFile(bool samples = true) =>
    [
        Utf8("name: kvm_mmu_spte_requested\nID: 1021\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            + "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
            + "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:u64 gfn;\toffset:8;\tsize:8;\tsigned:0;\n"
            + "\tfield:u64 pfn;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u8 level;\toffset:24;\tsize:1;\tsigned:0;\n"
            + "\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n\tfield:u32 regs[4];\toffset:32;\tsize:16;\tsigned:0;\n\n"
            + "print fmt: \"gfn %llx pfn %llx level %d\", REC->gfn, REC->pfn, REC->level\n"),
    ];

    /// <summary>Memslot JSON and QEMU's <c>-trace kvm_set_user_memory</c> log.</summary>
    public static IReadOnlyList<byte[]> Memslot(bool samples = true) =>
    [
        Utf8("[{\"slot\": 0, \"flags\": 4, \"guest_phys_addr\": 0, \"memory_size\": \"0x80000000\", \"userspace_addr\": \"0x7f0000000000\", \"guest_memfd\": 30, \"guest_memfd_offset\": 0},\n"
            + " {\"slot\": 1, \"as_id\": 0, \"flags\": \"0x4\", \"guest_phys_addr\": \"0x100000000\", \"memory_size\": \"0x80000000\", \"userspace_addr\": \"0x7f0080000000\", \"guest_memfd\": 30, \"guest_memfd_offset\": \"0x80000000\"},\n"
            + " {\"slot\": 2, \"flags\": 0, \"guest_phys_addr\": \"0xfeda0000\", \"memory_size\": \"0x20000\", \"userspace_addr\": \"0x7f1000000000\", \"guest_memfd\": -1}]\n"),
        Utf8("7000@1700000000.000001:" + Slot + "\n"
            + "7000@1700000000.000002:kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x4 gpa=0x100000000 size=0x80000000 ua=0x7f0080000000 guest_memfd=30 guest_memfd_offset=0x40000000 ret=0\n"
            + "kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x0 gpa=0x100000000 size=0x0 ua=0x7f0080000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0\n"),
    ];

    /// <summary>SNP traces for the replay: the test fixture's, v7 with and without QEMU's events, and text.</summary>
    public static IReadOnlyList<byte[]> Replay(bool samples = true)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-fuzz-seed-{Environment.ProcessId}.dat");
        try
        {
            SnpTraceFixture.Write(path, faults: 24, vcpus: 2, seed: 3, sharedEvery: 6, hugeEvery: 5);
            byte[] snp = File.ReadAllBytes(path);
            SnpTraceFixture.Write(path, faults: 16, vcpus: 1, seed: 4, qemuEvents: false);
            byte[] inferred = File.ReadAllBytes(path);
            return [snp, inferred, SmallSnp(new TraceDatWriterOptions(7, "none", 2)), Tracefs(false)[0], Tracefs(false)[1]];
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A short SNP guest's trace: its memslot, attributes, launch update, faults, a conversion.</summary>
    public static byte[] SmallSnp(TraceDatWriterOptions options)
    {
        var w = new KvmTraceWriter(options);
        int cpu1 = options.Cpus > 1 ? 1 : 0;
        ulong ts = 1_000_000;
        w.QemuEvent(0, ts++, 7000, Slot);
        w.SetMemAttributes(0, ts++, 7000, 0, 0x40000, 8);
        w.QemuEvent(0, ts++, 7000, "kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x800000 len 0x4000 (Normal page)");
        for (ulong i = 0; i < 6; i++)
        {
            ulong gfn = 0x200 + (i * 0x37);
            ulong code = i == 3 ? 0x100000004UL : 0x500000004UL | (i & 2);
            w.Exit(cpu1, ts++, 7001, 0, 0x400, code, gfn << 12);
            w.PageFault(cpu1, ts++, 7001, 0, gfn << 12, code);
            if (i == 3)
            {
                w.UserspaceExit(cpu1, ts++, 7001, 39, -14);
                w.QemuEvent(cpu1, ts++, 7001, $"kvm_convert_memory start 0x{gfn << 12:x} size 0x1000 to_shared");
                w.SetMemAttributes(cpu1, ts++, 7001, gfn, gfn + 1, 0);
            }

            w.SpteRequested(cpu1, ts++, 7001, gfn, 0x10000 + i, i == 5 ? 2 : 1);
            w.Entry(cpu1, ts++, 7001, 0);
        }

        var stream = new MemoryStream();
        w.Writer.WriteTo(stream);
        return stream.ToArray();
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Gzip(byte[] plain)
    {
        var output = new MemoryStream();
        using (var z = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(plain);
        }

        return output.ToArray();
    }

    private static byte[] Zstd(byte[] plain)
    {
        var output = new MemoryStream();
        using (var z = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
        {
            z.Write(plain);
        }

        return output.ToArray();
    }

    /// <summary>When <paramref name="wanted"/>, the samples beside the repository matching <paramref name="pattern"/> (each cut to <paramref name="maxBytes"/>, at a line end for text); none when the folder is absent.</summary>
    private static IEnumerable<byte[]> Samples(bool wanted, string folder, string pattern, int maxBytes)
    {
        string? root = wanted ? SamplesRoot() : null;
        if (root is null || !Directory.Exists(Path.Combine(root, folder)))
        {
            yield break;
        }

        foreach (string file in Directory.EnumerateFiles(Path.Combine(root, folder), pattern).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            if ((pattern.EndsWith(".dat", StringComparison.Ordinal) || pattern.EndsWith(".data", StringComparison.Ordinal)) && info.Length > maxBytes)
            {
                continue; // a cut trace.dat would stop inside its format section; only whole small ones are seeds
            }

            byte[] bytes = File.ReadAllBytes(file);
            if (bytes.Length > maxBytes)
            {
                int end = Array.LastIndexOf(bytes, (byte)'\n', maxBytes - 1);
                bytes = bytes[..(end > 0 ? end + 1 : maxBytes)];
            }

            yield return bytes;
        }
    }

    /// <summary>../shared/samples beside the repository (found from the running assembly), or FASTRMP_SAMPLES.</summary>
    public static string? SamplesRoot()
    {
        string? env = Environment.GetEnvironmentVariable("FASTRMP_SAMPLES");
        if (!string.IsNullOrEmpty(env))
        {
            return Directory.Exists(env) ? env : null;
        }

        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastRmp.sln")))
        {
            dir = dir.Parent;
        }

        string? samples = dir is null ? null : Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "samples"));
        return samples is not null && Directory.Exists(samples) ? samples : null;
    }
}
