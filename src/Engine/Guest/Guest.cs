using FastRmp.Engine.Kvm;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Guests;

/// <summary>
/// The guest's CPU over one <see cref="Vm"/>: accesses, PVALIDATE and page-state changes as the hardware and KVM
/// carry them out together. Every operation returns what it decided (<see cref="AccessOutcome"/>,
/// <see cref="PvalidateOutcome"/>); the VM keeps only KVM's own state and counters.
/// </summary>
/// <remarks>
/// The guest walks the NPT; a missing leaf, or a write to a leaf dirty logging write-protected, is an #NPF into
/// <see cref="Vm.HandleFault(ref kvm_page_fault_v6_13, out MemoryFaultExit)"/>; with a leaf that allows the access,
/// an SNP guest's access runs the RMP check, and an #NPF with the RMP bit goes to
/// <see cref="Vm.HandleRmpFault"/> before the access is retried (svm.c <c>npf_interception</c>, 6.18;
/// kernel-domain.md 5.5). Not thread-safe: one guest per VM, driven by one caller. Once the VM is disposed every
/// operation throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed partial class Guest
{
    private const int MaxAccessRounds = 8;
    private readonly Vm _vm;
    private readonly RmpTable? _rmp;

    /// <summary>The guest of <paramref name="vm"/>.</summary>
    public Guest(Vm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        _vm = vm;
        _rmp = vm.Arch is null ? null : vm.Rmp;
    }

    /// <summary>The VM the guest runs in.</summary>
    public Vm Vm => _vm;

    /// <summary>
    /// Accesses the guest's behaviour gave up on as stuck (<see cref="CountStuck"/>): on a real vCPU each would spin
    /// forever on #NPF(RMP), or end in the guest's #VC for a page it could not validate. A statistic of the driver
    /// (the scenarios' guest behaviour), not of KVM.
    /// </summary>
    public long StuckAccesses { get; private set; }

    /// <summary>Why the first stuck access could not complete, or null when none was counted.</summary>
    public string? StuckReason { get; private set; }

    /// <summary>
    /// True when a private access to <paramref name="gpa"/> that did not settle (<see cref="Access"/> threw) is the spin
    /// of a page KVM mapped but nobody made private: the leaf is present and private, the gfn is private by attribute,
    /// and the RMP entry of the leaf's pfn is not assigned. The hardware then raises #NPF(RMP) on every try and
    /// <c>sev_handle_rmp_fault</c> (arch/x86/kvm/svm/sev.c, 6.11+; kernel-domain.md 4.6, step 3) finds no assigned
    /// entry, WARNs and returns without changing anything, so the guest retries forever (upstream-2024-2026.md: merged
    /// <c>sev_gmem_prepare</c> with 1 GiB folios). <paramref name="reason"/> says so for that page.
    /// </summary>
    public bool SpinsOnHypervisorPage(gpa_t gpa, bool isPrivate, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? reason)
    {
        reason = null;
        var gfn = gpa.Gfn;
        var leaf = _vm.Npt.Lookup(gfn);
        if (_rmp is null || !isPrivate || !leaf.IsPresent || !leaf.IsPrivate || !_vm.Attributes.IsPrivate(gfn) || _rmp.Read(leaf.Pfn).assigned)
        {
            return false;
        }

        reason = $"the private access to gpa {gpa} spins: KVM mapped it at {leaf.Level} to pfn 0x{leaf.Pfn.Value:x}, which is not assigned in the RMP, "
            + "so every try takes #NPF(RMP) and sev_handle_rmp_fault finds no assigned entry to fix";
        return true;
    }

    /// <summary>Counts one access the guest's behaviour gave up on (see <see cref="SpinsOnHypervisorPage"/>), keeping the first reason.</summary>
    internal void CountStuck(string reason)
    {
        StuckAccesses++;
        StuckReason ??= reason;
    }

    /// <summary>
    /// One access to <paramref name="gpa"/>: faults until the leaf is present and (SNP) the RMP check passes, or
    /// until KVM exits to userspace, emulates, or the guest's own #VC (a page it has not validated) ends it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The access did not settle in a few rounds: a model bug, not a guest state.</exception>
    public AccessOutcome Access(gpa_t gpa, bool isPrivate, bool write = false)
    {
        _vm.ThrowIfDisposed();
        var gfn = gpa.Gfn;
        var faultLevel = PgLevel.None;
        int rmpFaults = 0;
        for (int round = 0; round < MaxAccessRounds; round++)
        {
            var leaf = _vm.Npt.Lookup(gfn);
            if (!leaf.IsPresent)
            {
                var fault = new kvm_page_fault_v6_13 { addr = gpa, error_code = ErrorCode(isPrivate, write) };
                var result = _vm.HandleFault(ref fault, out var exit);
                if (faultLevel == PgLevel.None)
                {
                    faultLevel = (PgLevel)fault.goal_level;
                }

                switch (result)
                {
                    // exits and emulation map nothing: the leaf is still the absent one
                    case FaultResult.MemoryFaultExit: return new(AccessResult.MemoryFaultExit, faultLevel, leaf, rmpFaults, exit);
                    case FaultResult.Emulate: return new(AccessResult.Mmio, faultLevel, leaf, rmpFaults, default);
                    default: continue;
                }
            }

            if (write && !leaf.IsWritable)
            {
                // The nested walk refuses the write before the RMP check: #NPF(present, write). KVM's fast path makes
                // a leaf write-protected by dirty logging writable again; otherwise the full fault path maps it.
                var fault = new kvm_page_fault_v6_13 { addr = gpa, error_code = ErrorCode(isPrivate, write) | (ulong)PageFaultErrorCode.Present };
                var result = _vm.HandleFault(ref fault, out var exit);
                if (faultLevel == PgLevel.None && result is not (FaultResult.FixedFast or FaultResult.Spurious))
                {
                    faultLevel = (PgLevel)fault.goal_level;
                }

                switch (result)
                {
                    case FaultResult.MemoryFaultExit: return new(AccessResult.MemoryFaultExit, faultLevel, leaf, rmpFaults, exit);
                    case FaultResult.Emulate: return new(AccessResult.Mmio, faultLevel, leaf, rmpFaults, default);
                    default: continue;
                }
            }

            if (_rmp is not null)
            {
                var npf = _rmp.CheckGuestAccess(leaf.Pfn, _vm.Config.Asid, gfn, isPrivate, write, leaf.Level, out bool notValidated);
                if (npf != PageFaultErrorCode.None)
                {
                    if (_vm.Attributes.IsPrivate(gfn) != isPrivate)
                    {
                        // npf_interception runs kvm_mmu_page_fault before the RMP handler: an access whose kind
                        // disagrees with the attributes (a shared access to a page still mapped private) is a
                        // conversion request, KVM_EXIT_MEMORY_FAULT, not a policy's extra fault.
                        var request = new kvm_page_fault_v6_13 { addr = gpa, error_code = ErrorCode(isPrivate, write) | (ulong)PageFaultErrorCode.Present };
                        if (_vm.HandleFault(ref request, out var exit) == FaultResult.MemoryFaultExit)
                        {
                            return new(AccessResult.MemoryFaultExit, faultLevel, leaf, rmpFaults, exit); // the exit changed no leaf
                        }

                        continue;
                    }

                    rmpFaults++;
                    _vm.HandleRmpFault(gpa, npf);
                    continue;
                }

                if (notValidated)
                {
                    return new(AccessResult.NotValidated, faultLevel, leaf, rmpFaults, default);
                }
            }

            return new(AccessResult.Ok, faultLevel, leaf, rmpFaults, default);
        }

        throw new InvalidOperationException($"The access to gpa {gpa} did not settle after {MaxAccessRounds} rounds (NPT: {_vm.Npt.Lookup(gfn)}; RMP: {(_vm.Rmp is { } rmp ? rmp.Read(_vm.Npt.Lookup(gfn).Pfn).ToString() : "none")}).");
    }

    /// <summary>
    /// PVALIDATE of <paramref name="gpa"/>: the CPU translates through the NPT (faulting the page in privately if it
    /// is not mapped), executes PVALIDATE on the backing pfn, and on #NPF(RMP, SIZEM) KVM's RMP fault handler
    /// PSMASHes and the guest retries.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not an SNP VM, or the instruction did not settle (a model bug).</exception>
    public PvalidateOutcome Pvalidate(gpa_t gpa, RmpPageSize size, bool validate)
    {
        _vm.ThrowIfDisposed();
        var rmp = _rmp ?? throw new InvalidOperationException("PVALIDATE needs an SNP VM.");
        var gfn = gpa.Gfn;
        int rmpFaults = 0;
        for (int round = 0; round < MaxAccessRounds; round++)
        {
            var leaf = _vm.Npt.Lookup(gfn);
            if (!leaf.IsPresent)
            {
                var fault = new kvm_page_fault_v6_13
                {
                    addr = gpa,
                    error_code = (ulong)(PageFaultErrorCode.User | PageFaultErrorCode.GuestEnc | PageFaultErrorCode.PrivateAccess),
                };
                if (_vm.HandleFault(ref fault) != FaultResult.Fixed)
                {
                    return new(PvalidateResult.FailPermission, rmpFaults); // not private: the guest's #VC handler sees a failure
                }

                continue;
            }

            var result = rmp.Pvalidate(leaf.Pfn, _vm.Config.Asid, gfn, size, validate, out var npf);
            if (npf == PageFaultErrorCode.None)
            {
                return new(result, rmpFaults);
            }

            rmpFaults++;
            _vm.HandleRmpFault(gpa, npf);
        }

        throw new InvalidOperationException($"PVALIDATE of gpa {gpa} did not settle after {MaxAccessRounds} rounds.");
    }

    /// <summary>
    /// The guest's page-state change of [<paramref name="gpa"/>, + <paramref name="size"/>) through MAP_GPA_RANGE:
    /// KVM exits to userspace (counted), which converts the range (<see cref="Vm.ConvertMemory"/>: the memory
    /// attributes, or guest_memfd's own with in-place conversion) and, when converting to shared with
    /// <paramref name="punchHole"/>, punches the pages out of guest_memfd (QEMU's discard).
    /// </summary>
    /// <exception cref="InvalidOperationException">KVM refused the conversion.</exception>
    public void PageStateChange(gpa_t gpa, ulong size, bool toPrivate, bool punchHole)
    {
        var error = TryPageStateChange(gpa, size, toPrivate, punchHole, out var errorGpa);
        if (error != Errno.Ok)
        {
            throw new InvalidOperationException($"Converting [{gpa}, +0x{size:x}) to {(toPrivate ? "private" : "shared")} failed at {errorGpa}: {error}.");
        }
    }

    /// <summary>
    /// <see cref="PageStateChange"/> that returns KVM's refusal instead of throwing: EAGAIN (and the gpa of the page
    /// still referenced, in <paramref name="errorGpa"/>) when an in-place conversion to private meets a page userspace
    /// still holds, which userspace retries once the reference is gone.
    /// </summary>
    public Errno TryPageStateChange(gpa_t gpa, ulong size, bool toPrivate, bool punchHole, out gpa_t errorGpa)
    {
        _vm.ThrowIfDisposed();
        _vm.Counters.HypercallExits++;
        var error = _vm.ConvertMemory(gpa, size, toPrivate, out errorGpa);
        if (error != Errno.Ok)
        {
            return error;
        }

        if (!toPrivate && punchHole)
        {
            _vm.PunchGuestMemfd(gpa, size);
        }

        return Errno.Ok;
    }

    private static ulong ErrorCode(bool isPrivate, bool write)
        => (write ? (ulong)PageFaultErrorCode.Write : 0) | (ulong)PageFaultErrorCode.User
            | (isPrivate ? (ulong)(PageFaultErrorCode.GuestEnc | PageFaultErrorCode.PrivateAccess) : 0);
}
