using System.Text;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Tdx;

/// <summary>
/// A TDX host's trace through the TDX model (issue 20, "Replay"). The traces are ftrace text in the order a 6.16 TDX
/// host records them: <c>tdx_handle_ept_violation</c> traces <c>kvm_page_fault</c> with the exit's GPA (the shared bit,
/// 47 with 4-level EPT, set for a shared access) and, for a private GPA, the exit qualification KVM forces to
/// EPT_VIOLATION_ACC_WRITE (0x2); the TDP MMU's <c>kvm_mmu_spte_requested</c> names the gfn without the shared bit;
/// MapGPA is a <c>kvm_userspace_exit</c> KVM_EXIT_HYPERCALL (3) and QEMU's <c>kvm_convert_memory</c>.
/// </summary>
public sealed class TdxReplayTests
{
    private const ulong SharedBit = 1UL << 47;
    private const string Slot = " qemu-system-x86-7000 [000] ..... 1.000000: tracing_mark_write: kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x40000000 ua=0x7f0000000000 guest_memfd=30 guest_memfd_offset=0x0 ret=0\n";

    private static string Fault(double t, ulong gpa, string code, ulong pfn, int level)
        => $"       CPU 0/KVM-7001 [001] ..... {t:F6}: kvm_page_fault: vcpu 0 rip 0x0 address 0x{gpa:x} error_code {code}\n"
            + $"       CPU 0/KVM-7001 [001] ..... {t + 0.0000005:F6}: kvm_mmu_spte_requested: gfn {(gpa & ~SharedBit) >> 12:x} pfn {pfn:x} level {level}\n";

    private static ReplayResult Replay(string text, string design)
    {
        using var reader = TraceFile.OpenText(Encoding.UTF8.GetBytes("# tracer: nop\n" + text));
        using var replayer = new Replayer(reader, new ReplayOptions(HostBytes: 4UL << 30, VmType: KvmVmType.Tdx), [design]);
        replayer.Run();
        return replayer.Results("t")[0];
    }

    [Fact]
    public void Private_faults_are_augmented_and_accepted_and_a_mapgpa_share_is_a_shared_fault()
    {
        // Two private EPT violations in one 2 MiB chunk: each a private fault mapped at 4K (AUG 4K), accepted by the TD;
        // tables: 512 GiB, 1 GiB and the chunk's 2 MiB one (3 SEPT.ADD). Then MapGPA to shared of a page never mapped
        // (one hypercall exit, QEMU's conversion: nothing to remove) and the shared access at GPA | bit 47: a shared fault.
        string trace = Slot
            + Fault(1.000010, 0x200000, "0x2", 0x10000, 1)
            + Fault(1.000020, 0x201000, "0x2", 0x10001, 1)
            + "       CPU 0/KVM-7001 [001] ..... 1.000030: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n"
            + " qemu-system-x86-7000 [000] ..... 1.000031: tracing_mark_write: kvm_convert_memory start 0x300000 size 0x1000 to_shared\n"
            + Fault(1.000040, 0x300000 | SharedBit, "0x181", 0x20000, 1);
        foreach (string design in (string[])["tdx", "tdx-2m"])
        {
            var r = Replay(trace, design);
            Assert.Equal(design, r.Policy);
            Assert.Equal(2, r.Counters["faults_private"]);
            Assert.Equal(1, r.Counters["faults_shared"]);
            Assert.Equal(2, r.Counters["tdx_page_aug_4k"]); // 4 KiB folios: 4K leaves under either design
            Assert.Equal(3, r.Counters["tdx_sept_add"]);
            Assert.Equal(2, r.Counters["tdx_accepted_4k"]);
            Assert.Equal(2, r.Counters["inferred_validations"]);
            Assert.Equal(1, r.Counters["hypercall_exits"]);
            Assert.Equal(0, r.Counters["memory_fault_exits"]);
            Assert.Equal(0, r.Counters["inferred_conversions"]);
            Assert.Equal(3, r.Fidelity.LevelsCompared);
            Assert.Equal(3, r.Fidelity.LevelsAgreed);
            Assert.Null(r.InvariantViolation);
        }
    }

    [Fact]
    public void A_share_of_a_mapped_private_page_removes_it_from_the_secure_ept()
    {
        // The page was private and mapped; MapGPA to shared zaps it: BLOCK, TRACK, REMOVE, WBINVD (tdx_sept_remove_private_spte).
        string trace = Slot
            + Fault(1.000010, 0x200000, "0x2", 0x10000, 1)
            + "       CPU 0/KVM-7001 [001] ..... 1.000030: kvm_userspace_exit: reason KVM_EXIT_HYPERCALL (3)\n"
            + " qemu-system-x86-7000 [000] ..... 1.000031: tracing_mark_write: kvm_convert_memory start 0x200000 size 0x1000 to_shared\n"
            + Fault(1.000040, 0x200000 | SharedBit, "0x181", 0x20000, 1);
        var r = Replay(trace, "tdx");
        Assert.Equal(1, r.Counters["tdx_range_block"]);
        Assert.Equal(1, r.Counters["tdx_track"]);
        Assert.Equal(1, r.Counters["tdx_remove"]);
        Assert.Equal(1, r.Counters["tdx_wbinvd"]);
        Assert.Equal(1, r.Counters["faults_shared"]);
        Assert.Equal(2, r.Fidelity.LevelsAgreed);
    }
}
