using FastRmp.Engine.Hosting;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tests.Kvm;

/// <summary>KVM_PRE_FAULT_MEMORY (mmu.c 6.11+; kernel-domain.md 3.3).</summary>
public sealed class PreFaultTests
{
    [Fact]
    public void Pre_faulting_2M_folios_maps_each_chunk_with_one_2M_fault_and_reports_progress()
    {
        using var host = new Host("first-use", folioOrder: 9, guestBytes: 16 << 20);
        var range = new kvm_pre_fault_memory { gpa = 0x40_0000, size = 0x40_0000 };
        Assert.Equal(Errno.Ok, host.Vm.PreFaultMemory(ref range));
        Assert.Equal((0x80_0000UL, 0UL), (range.gpa, range.size));
        Assert.Equal(2, host.Vm.Counters.FaultsPrivate);
        Assert.Equal(2, host.Vm.Npt.Leaves2M);
        Assert.Equal(2, host.Rmp.Counters.RmpUpdate2M);
        Assert.Equal(PgLevel.Level2M, host.Vm.Npt.Lookup(new gfn_t(0x7FF)).Level);
    }

    [Fact]
    public void Pre_faulting_stops_at_a_gfn_without_a_slot_and_keeps_the_progress()
    {
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20);
        var range = new kvm_pre_fault_memory { gpa = 0xFF_E000, size = 0x4000 };
        Assert.Equal(Errno.ENOENT, host.Vm.PreFaultMemory(ref range));
        Assert.Equal((0x100_0000UL, 0x2000UL), (range.gpa, range.size));
        Assert.Equal(2, host.Vm.Counters.FaultsPrivate);
    }

    [Fact]
    public void Bad_ranges_are_einval()
    {
        using var host = new Host("first-use", folioOrder: 0, guestBytes: 16 << 20);
        var flags = new kvm_pre_fault_memory { gpa = 0, size = 0x1000, flags = 1 };
        var empty = new kvm_pre_fault_memory { gpa = 0, size = 0 };
        var unaligned = new kvm_pre_fault_memory { gpa = 0x800, size = 0x1000 };
        var overflow = new kvm_pre_fault_memory { gpa = 0xFFFF_FFFF_FFFF_F000, size = 0x2000 };
        Assert.Equal(Errno.EINVAL, host.Vm.PreFaultMemory(ref flags));
        Assert.Equal(Errno.EINVAL, host.Vm.PreFaultMemory(ref empty));
        Assert.Equal(Errno.EINVAL, host.Vm.PreFaultMemory(ref unaligned));
        Assert.Equal(Errno.EINVAL, host.Vm.PreFaultMemory(ref overflow));
        Assert.Equal(0, host.Vm.Counters.FaultsPrivate);
    }
}
