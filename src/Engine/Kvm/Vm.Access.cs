using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

/// <summary>How a guest access ended.</summary>
public enum AccessResult
{
    /// <summary>The access completed.</summary>
    Ok,

    /// <summary>KVM exited to userspace with KVM_EXIT_MEMORY_FAULT (see <see cref="Vm.LastExit"/>).</summary>
    MemoryFaultExit,

    /// <summary>The gfn has no slot: KVM emulates (MMIO).</summary>
    Mmio,

    /// <summary>A private access to a page the guest has not validated: #VC 0x404 in the guest.</summary>
    NotValidated,
}

public sealed partial class Vm
{
    private const int MaxAccessRounds = 8;

    /// <summary>The NPT level the last completed access went through.</summary>
    public PgLevel LastAccessLevel { get; private set; }

    /// <summary>
    /// The goal level of the first fault the last access took (what <c>kvm_mmu_spte_requested</c> reports), or
    /// <see cref="PgLevel.None"/> when the access found its leaf present.
    /// </summary>
    public PgLevel LastAccessFaultLevel { get; private set; }

    /// <summary>
    /// One guest access to <paramref name="gpa"/> as the CPU and KVM carry it out together: walk the NPT; on a missing
    /// leaf, take an #NPF into <see cref="HandleFault"/>; with a leaf, run the RMP check (SNP), and on an #NPF with the
    /// RMP bit call the vendor's RMP fault handler and retry (svm.c <c>npf_interception</c>, 6.18; kernel-domain.md 5.5).
    /// </summary>
    /// <exception cref="InvalidOperationException">The access did not settle in a few rounds: a model bug, not a guest state.</exception>
    public AccessResult GuestAccess(gpa_t gpa, bool isPrivate, bool write = false)
    {
        var gfn = gpa.Gfn;
        LastAccessFaultLevel = PgLevel.None;
        for (int round = 0; round < MaxAccessRounds; round++)
        {
            var leaf = Npt.Lookup(gfn);
            if (!leaf.IsPresent)
            {
                var fault = new Interop.Kernel.kvm_page_fault_v6_13
                {
                    addr = gpa,
                    error_code = ErrorCode(isPrivate, write),
                };
                var result = HandleFault(ref fault);
                if (LastAccessFaultLevel == PgLevel.None)
                {
                    LastAccessFaultLevel = (PgLevel)fault.goal_level;
                }

                switch (result)
                {
                    case FaultResult.MemoryFaultExit: return AccessResult.MemoryFaultExit;
                    case FaultResult.Emulate: return AccessResult.Mmio;
                    default: continue;
                }
            }

            if (Rmp is not null && Arch is not null)
            {
                var npf = Rmp.CheckGuestAccess(leaf.Pfn, Config.Asid, gfn, isPrivate, write, leaf.Level, out bool notValidated);
                if (npf != PageFaultErrorCode.None)
                {
                    if (Attributes.IsPrivate(gfn) != isPrivate)
                    {
                        // npf_interception runs kvm_mmu_page_fault before the RMP handler: an access whose kind
                        // disagrees with the attributes (a shared access to a page still mapped private) is a
                        // conversion request, KVM_EXIT_MEMORY_FAULT, not a policy's extra fault.
                        var exit = new Interop.Kernel.kvm_page_fault_v6_13 { addr = gpa, error_code = ErrorCode(isPrivate, write) | (ulong)PageFaultErrorCode.Present };
                        if (HandleFault(ref exit) == FaultResult.MemoryFaultExit)
                        {
                            return AccessResult.MemoryFaultExit;
                        }

                        continue;
                    }

                    Counters.RmpNpf++;
                    Arch.HandleRmpFault(this, gpa, npf);
                    continue;
                }

                if (notValidated)
                {
                    LastAccessLevel = leaf.Level;
                    return AccessResult.NotValidated;
                }
            }

            LastAccessLevel = leaf.Level;
            return AccessResult.Ok;
        }

        throw new InvalidOperationException($"The access to gpa {gpa} did not settle after {MaxAccessRounds} rounds (NPT {Npt.Lookup(gfn)}, RMP {Rmp?.Read(Npt.Lookup(gfn).Pfn)}).");
    }

    private static ulong ErrorCode(bool isPrivate, bool write)
        => (write ? (ulong)PageFaultErrorCode.Write : 0) | (ulong)PageFaultErrorCode.User
            | (isPrivate ? (ulong)(PageFaultErrorCode.GuestEnc | PageFaultErrorCode.PrivateAccess) : 0);
}
