using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>
    /// Models KVM_PRE_FAULT_MEMORY (<c>kvm_arch_vcpu_pre_fault_memory</c>, arch/x86/kvm/mmu/mmu.c, 6.11+): map
    /// [gpa, gpa + size) ahead of the guest as prefetch faults of the kind the memory attributes say, advancing
    /// <paramref name="range"/> by each mapping's size as the kernel reports progress. EINVAL for non-zero flags, a
    /// zero size or an unaligned or overflowing range; ENOENT at a gfn with no memslot; the fault's errno (EFAULT)
    /// when the range cannot be mapped. Memory the range already maps is re-mapped at no extra cost.
    /// </summary>
    public Errno PreFaultMemory(ref kvm_pre_fault_memory range)
    {
        ThrowIfDisposed();
        if (range.flags != 0 || range.size == 0 || ((range.gpa | range.size) & PageSize.Mask4K) != 0
            || range.gpa + range.size < range.gpa)
        {
            return Errno.EINVAL;
        }

        while (range.size != 0)
        {
            var gpa = new gpa_t(range.gpa);
            bool isPrivate = Attributes.IsPrivate(gpa.Gfn);
            var fault = new kvm_page_fault_v6_13
            {
                addr = gpa,
                error_code = (ulong)PageFaultErrorCode.GuestFinal | (isPrivate ? (ulong)PageFaultErrorCode.PrivateAccess : 0),
                prefetch = true,
            };
            switch (HandleFault(ref fault, out var exit))
            {
                case FaultResult.Emulate:
                    return Errno.ENOENT;
                case FaultResult.MemoryFaultExit:
                    return exit.Errno;
                case FaultResult.Retry:
                    continue;
            }

            ulong size = 1UL << (PageSize.Shift4K + (((int)fault.goal_level - 1) * 9));
            ulong next = (range.gpa & ~(size - 1)) + size;
            ulong advance = Math.Min(next - range.gpa, range.size);
            range.gpa += advance;
            range.size -= advance;
        }

        return Errno.Ok;
    }
}
