using System.Text;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>
/// The replay follows the traced host (issue 15, "Follow the host"; docs/replay.md): a 2M folio where the trace shows a
/// private 2M leaf (<c>--folio auto</c>), the trace's own exits before the model's inference, and MAP_GPA_RANGE exits
/// counted from the kernel's KVM_EXIT_HYPERCALL rather than from QEMU's conversions. The traces are ftrace text written
/// here, in the order a 6.18 host records them (kernel-domain.md 6).
/// </summary>
public sealed class ReplayFollowsHostTests
{
    private const string Slot = " qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0\n";

    private static ReplayResult Replay(string text, ReplayOptions options, string policy = "first-use")
    {
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes("# tracer: nop\n" + text));
        using var replayer = new Replayer(reader, options with { HostBytes = 4UL << 30 }, [policy]);
        replayer.Run();
        return replayer.Results("t")[0];
    }

    private static string Fault(double t, ulong gpa, string code, ulong pfn, int level)
        => $"       CPU 0/KVM-7001 [001] ..... {t:F6}: kvm_page_fault: vcpu 0 rip 0x0 address 0x{gpa:x} error_code {code}\n"
            + $"       CPU 0/KVM-7001 [001] ..... {t + 0.0000005:F6}: kvm_mmu_spte_requested: gfn {gpa >> 12:x} pfn {pfn:x} level {level}\n";

    [Fact]
    public void A_traced_private_2M_leaf_gives_its_block_a_2M_folio_under_folio_auto()
    {
        // The host mapped gfn 0x200 at 2M (pfn 0x10200, 2 MiB-aligned) and gfn 0x40000 at 4K: with --folio auto the
        // first block gets a 2M folio (KVM maps 2M only over a folio of order >= 9), so first-use prepares it as one
        // 2M RMP entry and maps 2M: both levels agree. With every folio 4K the 2M leaf cannot be reproduced.
        string trace = Slot + Fault(1.000010, 0x200000, "0x500000004", 0x10200, 2) + Fault(1.000020, 0x40000000 - 0x1000, "0x500000004", 0x20000, 1);
        var auto = Replay(trace, new ReplayOptions(FolioAuto: true));
        Assert.Equal(1, auto.Counters["folios_inferred_2m"]);
        Assert.Equal(2, auto.Fidelity.LevelsCompared);
        Assert.Equal(2, auto.Fidelity.LevelsAgreed);
        Assert.Equal(1, auto.Counters["folios_2m"]);
        Assert.Equal(1, auto.Counters["folios_4k"]);

        var fixed4K = Replay(trace, new ReplayOptions());
        Assert.Equal(0, fixed4K.Counters["folios_inferred_2m"]);
        Assert.Equal(1, fixed4K.Fidelity.LevelsAgreed);
    }

    [Fact]
    public void A_traced_memory_fault_exit_is_kept_instead_of_an_inferred_conversion()
    {
        // QEMU made the slot private when it created it (a traced event), so a shared access to it exits to userspace
        // as the trace shows (kvm_userspace_exit 39, -EFAULT); the model must exit too, not flip the page.
        string trace = Slot
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x300000 error_code 0x100000004\n"
            + "       CPU 0/KVM-7001 [001] ..... 1.000011: kvm_userspace_exit: reason KVM_EXIT_MEMORY_FAULT (39)\n";
        var result = Replay(trace, new ReplayOptions(FolioAuto: true));
        Assert.Equal(0, result.Counters["inferred_conversions"]);
        Assert.Equal(1, result.Counters["memory_fault_exits"]);
        Assert.Equal(1, result.Fidelity.ExitsCompared);
        Assert.Equal(1, result.Fidelity.ExitsAgreed);
    }

    [Fact]
    public void A_traced_mapping_of_a_shared_access_is_a_conversion_the_trace_did_not_show()
    {
        // The same shared access, but the host mapped it (level 1): its attributes were shared, so a conversion was
        // not traced; the model infers it (one inferred conversion) and maps the page as the host did.
        string trace = Slot + Fault(1.000010, 0x300000, "0x100000004", 0x30000, 1);
        var result = Replay(trace, new ReplayOptions(FolioAuto: true));
        Assert.Equal(1, result.Counters["inferred_conversions"]);
        Assert.Equal(0, result.Counters["memory_fault_exits"]);
        Assert.Equal(1, result.Fidelity.LevelsAgreed);
    }

    [Fact]
    public void Hypercall_exits_are_the_kernels_KVM_EXIT_HYPERCALL_not_qemus_conversions()
    {
        // One MAP_GPA_RANGE exit (kvm_userspace_exit reason 3) and two QEMU conversions (one after a memory-fault
        // exit, one to private): hypercall_exits is 1.
        string trace = Slot
            + "       CPU 0/KVM-7001 [001] ..... 1.000010: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n"
            + " qemu-system-x86-7000 [000] ..... 1.000011: tracing_mark_write: kvm_convert_memory start 0x400000 size 0x1000 to_shared\n"
            + " qemu-system-x86-7000 [000] ..... 1.000012: tracing_mark_write: kvm_convert_memory start 0x400000 size 0x1000 to_private\n";
        var result = Replay(trace, new ReplayOptions());
        Assert.Equal(1, result.Counters["hypercall_exits"]);
    }

    [Fact]
    public void A_traced_shared_2M_leaf_backs_its_block_with_a_huge_page_of_the_vmm()
    {
        // QEMU converts the 2 MiB block at 0x600000 to shared (attributes shared, not MIXED); the host then maps a shared
        // access there at 2M (pfn 0x40000, its anonymous memory under THP). With --folio auto the model backs the block
        // with one 2 MiB host block and maps 2M too; with shared memory of 4 KiB pages it can only map 4K.
        string trace = Slot
            + " qemu-system-x86-7000 [000] ..... 1.000005: tracing_mark_write: kvm_convert_memory start 0x600000 size 0x200000 to_shared\n"
            + Fault(1.000010, 0x600000, "0x100000004", 0x40000, 2);
        var auto = Replay(trace, new ReplayOptions(FolioAuto: true));
        Assert.Equal(1, auto.Counters["shared_thp_inferred"]);
        Assert.Equal(1, auto.Fidelity.LevelsAgreed);
        Assert.Equal(0, auto.Counters["inferred_conversions"]);
        Assert.Equal(1, auto.Counters["npt_2m"]);

        var fixed4K = Replay(trace, new ReplayOptions());
        Assert.Equal(0, fixed4K.Counters["shared_thp_inferred"]);
        Assert.Equal(0, fixed4K.Fidelity.LevelsAgreed);
    }

    [Fact]
    public void A_host_mixing_4K_and_2M_folios_is_followed_decision_for_decision_under_folio_auto()
    {
        // A generated host trace (SnpTraceFixture, 6.18 host, first use) where about one private fault in four maps a
        // fresh 2 MiB block at 2M over a 2M folio and the rest map 4K, with shared accesses that exit and convert.
        // Under --folio auto the first-use model reproduces every traced level and exit; with every folio 4K each 2M
        // leaf is a level miss.
        string path = Path.Combine(Path.GetTempPath(), $"fastrmp-mixed-{Guid.NewGuid():N}.dat");
        try
        {
            FastRmp.Tests.Common.SnpTraceFixture.Write(path, faults: 2000, hugeEvery: 4);
            ReplayResult Run(bool auto)
            {
                using var reader = TraceFile.OpenReader(path);
                using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 64UL << 30, FolioAuto: auto), ["first-use"]);
                replayer.Run();
                return replayer.Results("mixed")[0];
            }

            var auto = Run(auto: true);
            Assert.True(auto.Counters["folios_inferred_2m"] > 300, $"{auto.Counters["folios_inferred_2m"]} 2M folios inferred");
            Assert.Equal(auto.Fidelity.LevelsCompared, auto.Fidelity.LevelsAgreed);
            Assert.Equal(auto.Fidelity.ExitsCompared, auto.Fidelity.ExitsAgreed);
            Assert.Equal(auto.Counters["folios_inferred_2m"], auto.Counters["npt_2m"]);

            var fixed4K = Run(auto: false);
            Assert.Equal(fixed4K.Fidelity.LevelsCompared - auto.Counters["folios_inferred_2m"], fixed4K.Fidelity.LevelsAgreed);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
