using FastRmp.Engine.Kvm;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Replay;

/// <summary>How a trace is replayed.</summary>
/// <param name="FolioOrder">guest_memfd folio order of the model: 0 (upstream), 9 (THP series), 18 (HugeTLB series).</param>
/// <param name="HostBytes">The host's memory (the allocator's and the RMP's range; traced pfns beyond it are allocated by the model).</param>
/// <param name="VmType">SNP (RMP and the policy's hooks) or SW_PROTECTED (guest_memfd without hardware checks).</param>
/// <param name="Memslots">Memslots given by the user (<c>--memslots</c>); when set, the trace's memslot events are ignored.</param>
/// <param name="MaxDisagreements">How many disagreements with the trace to keep, first in time.</param>
/// <param name="Verify">Check the model's invariants at the end (<c>Vm.Verify</c>, the allocator's; about a second per TiB of host).</param>
/// <param name="Kernel">Which kernel's KVM the model follows (null: <see cref="KvmKernel.Default"/>).</param>
/// <param name="FolioAuto">
/// Follow the host's folio sizes (<c>--folio auto</c>): a traced private 2M leaf (<c>kvm_mmu_spte_requested</c> at
/// level 2) makes that 2 MiB block of guest_memfd one 2M folio, if the block has no folio yet; elsewhere folios are of
/// <see cref="FolioOrder"/> (which must then be 0). Counted as <c>folios_inferred_2m</c>.
/// </param>
/// <param name="RmpOpt">Give the model's host RMPOPT (<see cref="Hosting.HostOptions.RmpOpt"/>): the result gains its counters.</param>
public sealed record ReplayOptions(
    int FolioOrder = 0,
    ulong HostBytes = 1UL << 40,
    KvmVmType VmType = KvmVmType.Snp,
    IReadOnlyList<kvm_userspace_memory_region2>? Memslots = null,
    int MaxDisagreements = 10,
    bool Verify = true,
    KvmKernel? Kernel = null,
    bool RmpOpt = false,
    bool FolioAuto = false);

/// <summary>Where the model's memslots came from.</summary>
public enum MemslotSource
{
    /// <summary>None yet.</summary>
    None,

    /// <summary>QEMU's <c>kvm_set_user_memory</c> events in the trace.</summary>
    Trace,

    /// <summary>The user's memslot file.</summary>
    File,

    /// <summary>Inferred: one guest_memfd-backed 1 GiB slot around each faulting gfn without a slot.</summary>
    Inferred,
}
