using FastRmp.Interop.Tracing.Writing;

namespace FastRmp.Tests.Common;

/// <summary>
/// Writes a synthetic SEV-SNP host trace as a 6.18 host running upstream guest_memfd (4 KiB folios, prepare at first
/// use) would record it: QEMU's memslots (guest_memfd, two slots around the PCI hole) and launch update through the
/// ftrace backend, the kernel's attribute changes, and per vCPU thread the fault chain
/// kvm_exit(npf) -> kvm_page_fault -> kvm_mmu_spte_requested(level 1) -> kvm_entry; a shared access to private memory
/// goes kvm_page_fault -> kvm_userspace_exit(MEMORY_FAULT) -> QEMU kvm_convert_memory -> kvm_vm_set_mem_attributes
/// -> the fault again.
/// </summary>
/// <remarks>Event order and fields as in kernel-domain.md 6 and traces.md 1.5; the error codes are the SNP sample's
/// (0x500000004 private read, bit 1 for a write; shared accesses without ENC).</remarks>
internal static class SnpTraceFixture
{
    public const ulong LowSlotBytes = 2UL << 30;
    public const ulong HighBase = 4UL << 30;
    public const ulong HighSlotBytes = 2UL << 30;
    public const int QemuPid = 7000;
    private const ulong PrivateRead = 0x500000004;
    private const ulong SharedRead = 0x100000004;

    /// <summary>What was written.</summary>
    public sealed record Summary(long Records, long Faults, long SharedConversions, long DistinctGfns, long HugeBlocks = 0);

    /// <summary>Writes <paramref name="faults"/> guest faults (each on a new gfn; every <paramref name="sharedEvery"/>th or so a shared access that converts) over <paramref name="vcpus"/> vCPUs.</summary>
    /// <remarks>
    /// With <paramref name="hugeEvery"/> &gt; 0, about one private fault in that many lands on a fresh 2 MiB block at its
    /// aligned gfn and is mapped at level 2 over a 2 MiB-aligned pfn, as a host with 2M guest_memfd folios maps it
    /// (the block's other gfns then never fault: the 2M leaf covers them).
    /// </remarks>
    public static Summary Write(string path, int faults, int vcpus = 4, int seed = 1, bool qemuEvents = true, string compression = "none", int sharedEvery = 25, ulong highSlotBytes = HighSlotBytes, int hugeEvery = 0)
    {
        var w = new KvmTraceWriter(new TraceDatWriterOptions(7, compression, vcpus));
        var summary = WriteVm(w, QemuPid, 0, vcpus, faults, seed, qemuEvents, sharedEvery, highSlotBytes, 0x100000, processEvents: false, hugeEvery);
        w.Save(path);
        return summary;
    }

    /// <summary>
    /// Writes <paramref name="vms"/> SNP guests of the same layout side by side (QEMU processes 7000, 8000, ...; each
    /// on its own <paramref name="vcpus"/> CPUs, with its own host pfns). With <paramref name="processEvents"/> each
    /// QEMU starts in the trace: sched_process_exec of its main thread, then sched_process_fork of each vCPU thread.
    /// </summary>
    public static Summary[] WriteVms(string path, int vms, int faultsEach, int vcpus = 2, bool processEvents = true)
    {
        var w = new KvmTraceWriter(new TraceDatWriterOptions(7, "none", vms * vcpus));
        var summaries = new Summary[vms];
        for (int vm = 0; vm < vms; vm++)
        {
            summaries[vm] = WriteVm(w, QemuPid + (1000 * vm), vm * vcpus, vcpus, faultsEach, seed: 1 + vm, qemuEvents: true, sharedEvery: 25, HighSlotBytes, 0x100000 + ((ulong)vm << 22), processEvents);
        }

        w.Save(path);
        return summaries;
    }

    private static Summary WriteVm(KvmTraceWriter w, int qemuPid, int firstCpu, int vcpus, int faults, int seed, bool qemuEvents, int sharedEvery, ulong highSlotBytes, ulong nextPfn, bool processEvents, int hugeEvery = 0)
    {
        var hugeBlocks = new HashSet<ulong>(); // 2 MiB blocks (gfn >> 9) mapped 2M: no other fault lands in them
        ulong nextHugePfn = 0x400000; // 2 MiB-aligned host blocks, above the 4K pages
        ulong guestPages = (LowSlotBytes + highSlotBytes) >> 12;
        if ((ulong)faults > guestPages / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(faults), "at most one fault per two guest pages (each fault takes a new gfn)");
        }

        w.Writer.AddCmdline(qemuPid, "qemu-system-x86");
        for (int v = 0; v < vcpus; v++)
        {
            w.Writer.AddCmdline(qemuPid + 1 + v, $"CPU {v}/KVM");
        }

        var rng = new Random(seed);
        var ts = new ulong[vcpus];
        Array.Fill(ts, 1_000_000_000UL);
        var pfns = new Dictionary<ulong, ulong>();
        var shared = new HashSet<ulong>();
        long records = 0, conversions = 0;
        if (processEvents)
        {
            w.ProcessExec(firstCpu, ts[0]++, qemuPid, "/usr/bin/qemu-system-x86_64");
            for (int v = 0; v < vcpus; v++)
            {
                w.ProcessFork(firstCpu, ts[0]++, qemuPid, "qemu-system-x86", qemuPid + 1 + v, "qemu-system-x86");
            }

            records += 1 + vcpus;
        }

        if (qemuEvents)
        {
            w.QemuEvent(firstCpu, ts[0]++, qemuPid, $"kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x{LowSlotBytes:x} ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0");
            w.QemuEvent(firstCpu, ts[0]++, qemuPid, $"kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x4 gpa=0x{HighBase:x} size=0x{highSlotBytes:x} ua=0x7f0080000000 guest_memfd=30 guest_memfd_offset=0x{LowSlotBytes:x} ret=0");
            records += 2;
        }

        w.SetMemAttributes(firstCpu, ts[0]++, qemuPid, 0, LowSlotBytes >> 12, 8);
        w.SetMemAttributes(firstCpu, ts[0]++, qemuPid, HighBase >> 12, (HighBase + highSlotBytes) >> 12, 8);
        records += 2;
        if (qemuEvents)
        {
            w.QemuEvent(firstCpu, ts[0]++, qemuPid, "kvm_sev_snp_launch_update src 0x7f00aa000000 gpa 0x800000 len 0x10000 (Normal page)");
            records++;
        }

        for (int i = 0; i < faults; i++)
        {
            int vcpu = i % vcpus;
            int cpu = firstCpu + vcpu;
            int pid = qemuPid + 1 + vcpu;
            ulong gfn;
            do
            {
                // each gfn faults once, as on a host that never zaps: a second touch would find its leaf
                ulong page = (ulong)rng.NextInt64((long)guestPages);
                gfn = page < LowSlotBytes >> 12 ? page : page - (LowSlotBytes >> 12) + (HighBase >> 12);
            }
            while (pfns.ContainsKey(gfn) || shared.Contains(gfn) || gfn - 0x800 < 16 || hugeBlocks.Contains(gfn >> 9));

            bool wantShared = sharedEvery > 0 && rng.Next(sharedEvery) == 0;
            bool huge = !wantShared && hugeEvery > 0 && rng.Next(hugeEvery) == 0;
            if (huge)
            {
                // a fresh block whose pages nothing has touched: the fault lands on its aligned gfn
                ulong block = gfn & ~511UL;
                bool fresh = true;
                for (ulong g = block; g < block + 512 && fresh; g++)
                {
                    fresh = !pfns.ContainsKey(g) && !shared.Contains(g) && g - 0x800 >= 16;
                }

                huge = fresh;
                if (huge)
                {
                    gfn = block;
                    hugeBlocks.Add(block >> 9);
                }
            }
            bool write = rng.Next(2) == 0;
            ulong code = (wantShared ? SharedRead : PrivateRead) | (write ? 2UL : 0);
            ts[vcpu] += (ulong)rng.Next(200, 4000);
            w.Exit(cpu, ts[vcpu]++, pid, (uint)vcpu, 0x400, code, gfn << 12);
            w.PageFault(cpu, ts[vcpu]++, pid, (uint)vcpu, gfn << 12, code);
            records += 2;
            if (wantShared)
            {
                // private memory, shared access: KVM exits, QEMU converts (and discards the private page), the guest retries
                w.UserspaceExit(cpu, ts[vcpu]++, pid, 39, -14);
                w.QemuEvent(cpu, ts[vcpu]++, pid, $"kvm_convert_memory start 0x{gfn << 12:x} size 0x1000 to_shared");
                w.SetMemAttributes(cpu, ts[vcpu]++, pid, gfn, gfn + 1, 0);
                w.Entry(cpu, ts[vcpu]++, pid, (uint)vcpu);
                w.Exit(cpu, ts[vcpu]++, pid, (uint)vcpu, 0x400, code, gfn << 12);
                w.PageFault(cpu, ts[vcpu]++, pid, (uint)vcpu, gfn << 12, code);
                shared.Add(gfn);
                conversions++;
                records += 6;
            }

            if (!pfns.TryGetValue(gfn, out ulong pfn))
            {
                if (huge)
                {
                    pfn = nextHugePfn;
                    nextHugePfn += 512;
                }
                else
                {
                    pfn = nextPfn++;
                }

                pfns.Add(gfn, pfn);
            }

            w.SpteRequested(cpu, ts[vcpu]++, pid, gfn, pfn, huge ? 2 : 1);
            w.Entry(cpu, ts[vcpu]++, pid, (uint)vcpu);
            records += 2;
        }

        return new Summary(records, faults + conversions, conversions, pfns.Count, hugeBlocks.Count);
    }
}
