using FastRmp.Engine.Allocation;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Hosting;

/// <summary>The RMP store a <see cref="Host"/> builds its table over (docs/rmp.md).</summary>
public enum RmpStoreKind
{
    /// <summary>Bitmaps plus detail records: 32 MiB per TiB of host memory (the default).</summary>
    Compact,

    /// <summary>The hardware's table, 16 bytes per 4 KiB page.</summary>
    Raw,
}

/// <summary>How a <see cref="Host"/> is built beyond its policy, folio size and guest (replay and tests set these).</summary>
/// <param name="HostPages">Host memory in 4 KiB pages (rounded up to 1 GiB); default: twice the guest plus 1 GiB, at least 4 GiB.</param>
/// <param name="VmType">SNP (RMP, policy hooks) or SW_PROTECTED (guest_memfd without hardware checks: the policy is unused).</param>
/// <param name="TracedPfns">Let allocations take the pfns a trace names (<see cref="TracedPfnAllocator"/>).</param>
/// <param name="MemslotCapacity">Memslots the VM can hold.</param>
/// <param name="BatchFreshFaults">The VM's batched fault path (<see cref="Kvm.VmConfig.BatchFreshFaults"/>); false for the per-page reference.</param>
/// <param name="Store">The RMP store.</param>
/// <param name="AllowDirtyLoggingOnGmem">What-if: accept dirty logging on guest_memfd slots (mainline refuses).</param>
/// <param name="Kernel">Which kernel's KVM the VM follows (null: <see cref="Kvm.KvmKernel.Default"/>).</param>
/// <param name="GmemFlags">KVM_CREATE_GUEST_MEMFD flags of the guest's memory (null: see <see cref="Host.CreateGuestMemfd"/>).</param>
/// <param name="RmpOpt">
/// Give the host RMPOPT (<see cref="Rmp.RmpOptSummary"/>, docs/rmpopt.md): a 1 GiB-region summary optimised at start,
/// turned off by conversions to private and splits, re-optimised after <see cref="Host.TeardownGuest"/>; its counters
/// join the result. Off by default; when off it costs a null check where the RMP changes.
/// </param>
public sealed record HostOptions(
    ulong? HostPages = null,
    KvmVmType VmType = KvmVmType.Snp,
    bool TracedPfns = false,
    int MemslotCapacity = 1024,
    bool BatchFreshFaults = true,
    RmpStoreKind Store = RmpStoreKind.Compact,
    bool AllowDirtyLoggingOnGmem = false,
    Kvm.KvmKernel? Kernel = null,
    GuestMemfdFlags? GmemFlags = null,
    bool RmpOpt = false)
{
    /// <summary>The VM's <see cref="Kvm.VmConfig.DirtyLogInitiallySet"/> (KVM_DIRTY_LOG_INITIALLY_SET: enabling dirty logging changes no mapping).</summary>
    public bool DirtyLogInitiallySet { get; init; }

    /// <summary>A TDX host's PAMT is Dynamic PAMT (<see cref="Tdx.TdxPamt"/>); ignored for other VM types.</summary>
    public bool DynamicPamt { get; init; }

    /// <summary>The VM's <see cref="Kvm.VmConfig.EagerPageSplit"/> (the <c>eager_page_split</c> module parameter, default on).</summary>
    public bool EagerPageSplit { get; init; } = true;
}
