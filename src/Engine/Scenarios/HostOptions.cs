using FastRmp.Engine.Allocation;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Scenarios;

/// <summary>How a <see cref="ScenarioHost"/> is built beyond the scenario's needs (replay sets these).</summary>
/// <param name="HostPages">Host memory in 4 KiB pages (rounded up to 1 GiB); default: twice the guest plus 1 GiB, at least 4 GiB.</param>
/// <param name="VmType">SNP (RMP, policy hooks) or SW_PROTECTED (guest_memfd without hardware checks: the policy is unused).</param>
/// <param name="TracedPfns">Let allocations take the pfns a trace names (<see cref="TracedPfnAllocator"/>).</param>
/// <param name="MemslotCapacity">Memslots the VM can hold.</param>
/// <param name="BatchFreshFaults">The VM's batched fault path (<see cref="Kvm.VmConfig.BatchFreshFaults"/>); false for the per-page reference.</param>
public sealed record HostOptions(ulong? HostPages = null, KvmVmType VmType = KvmVmType.Snp, bool TracedPfns = false, int MemslotCapacity = 1024, bool BatchFreshFaults = true);
