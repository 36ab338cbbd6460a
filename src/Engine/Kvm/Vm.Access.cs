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
    /// One guest access to <paramref name="gpa"/> as the CPU and KVM carry it out together: walk the NPT; on a missing
    /// leaf, take an #NPF into <see cref="HandleFault"/>; with a leaf, run the RMP check (SNP), and on an #NPF with the
    /// RMP bit call the vendor's RMP fault handler and retry (svm.c <c>npf_interception</c>, 6.18; kernel-domain.md 5.5).
    /// </summary>
    /// <exception cref="InvalidOperationException">The access did not settle in a few rounds: a model bug, not a guest state.</exception>
    public AccessResult GuestAccess(gpa_t gpa, bool isPrivate, bool write = false)
    {
        var gfn = gpa.Gfn;
        for (int round = 0; round < MaxAccessRounds; round++)
        {
            var leaf = Npt.Lookup(gfn);
            if (!leaf.IsPresent)
            {
                var fault = new Interop.Kernel.kvm_page_fault_v6_13
                {
                    addr = gpa,
                    error_code = (write ? (ulong)PageFaultErrorCode.Write : 0) | (ulong)PageFaultErrorCode.User
                        | (isPrivate ? (ulong)(PageFaultErrorCode.GuestEnc | PageFaultErrorCode.PrivateAccess) : 0),
                };
                var result = HandleFault(ref fault);
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
}
