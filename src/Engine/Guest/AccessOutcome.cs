using FastRmp.Engine.Kvm;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Guests;

/// <summary>How a guest access ended.</summary>
public enum AccessResult
{
    /// <summary>The access completed.</summary>
    Ok,

    /// <summary>KVM exited to userspace with KVM_EXIT_MEMORY_FAULT (<see cref="AccessOutcome.Exit"/>).</summary>
    MemoryFaultExit,

    /// <summary>The gfn has no slot: KVM emulates (MMIO).</summary>
    Mmio,

    /// <summary>A private access to a page the guest has not validated: #VC 0x404 in the guest.</summary>
    NotValidated,
}

/// <summary>Everything one guest access decided, returned by <see cref="Guest.Access"/>.</summary>
/// <param name="Result">How it ended.</param>
/// <param name="FaultLevel">
/// The goal level of the first #NPF the access took (what <c>kvm_mmu_spte_requested</c> reports), or
/// <see cref="PgLevel.None"/> when it found its leaf present.
/// </param>
/// <param name="Leaf">The NPT leaf of the gfn when the access ended (not present after an exit or MMIO).</param>
/// <param name="RmpFaults">#NPF(RMP) the hardware raised during the access (each handled by KVM and retried).</param>
/// <param name="Exit">The memory-fault exit KVM prepared, when <paramref name="Result"/> is <see cref="AccessResult.MemoryFaultExit"/>.</param>
public readonly record struct AccessOutcome(AccessResult Result, PgLevel FaultLevel, NptLeaf Leaf, int RmpFaults, MemoryFaultExit Exit)
{
    /// <summary>The level the access went through, or reported by its first fault (the level a trace's <c>kvm_mmu_spte_requested</c> shows).</summary>
    public PgLevel Level => FaultLevel != PgLevel.None ? FaultLevel : Leaf.Level;
}

/// <summary>What a guest PVALIDATE did, returned by <see cref="Guest.Pvalidate"/>.</summary>
/// <param name="Result">The instruction's result.</param>
/// <param name="RmpFaults">#NPF(RMP, SIZEM) taken and handled by KVM before the instruction completed.</param>
public readonly record struct PvalidateOutcome(PvalidateResult Result, int RmpFaults);
