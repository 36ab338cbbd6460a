namespace FastRmp.Engine.Replay;

/// <summary>
/// What one VM's part of the trace shows, counted from the replay ops it was given: the trace's own column beside the
/// policies' (faults, the traced mapping levels, exits, RMP faults, conversions, launch updates, memslot events).
/// </summary>
/// <remarks>
/// Every policy's session of a VM sees the same ops, so their tallies are equal; reports take the first. Counts are of
/// ops, after <see cref="TraceOps"/> paired each fault with its outcome: a fault is one <c>kvm_page_fault</c> without
/// the RMP bit, its level the <c>kvm_mmu_spte_requested</c> level that resolved it. Not thread-safe.
/// </remarks>
public sealed class TraceTally
{
    private const ulong PrivateBits = (1UL << 34) | (1UL << 49);
    private readonly long[] _levels = new long[4];

    /// <summary>Guest accesses traced (<c>kvm_page_fault</c> without the RMP bit).</summary>
    public long Faults { get; private set; }

    /// <summary>Of those, private accesses (ENC or PRIVATE_ACCESS set in the error code).</summary>
    public long PrivateFaults { get; private set; }

    /// <summary>Faults the trace shows no outcome for (no spte requested and no memory-fault exit on the thread after it).</summary>
    public long Unresolved { get; private set; }

    /// <summary>Faults the traced kernel ended with KVM_EXIT_MEMORY_FAULT.</summary>
    public long MemoryFaultExits { get; private set; }

    /// <summary><c>kvm_rmp_fault</c> events.</summary>
    public long RmpFaults { get; private set; }

    /// <summary>Attribute changes (<c>kvm_vm_set_mem_attributes</c>) and QEMU conversions.</summary>
    public long Conversions { get; private set; }

    /// <summary>QEMU launch updates (SNP_LAUNCH_UPDATE ranges).</summary>
    public long LaunchUpdates { get; private set; }

    /// <summary>Hypercall exits to userspace (KVM_HC_MAP_GPA_RANGE, the guest asking for a conversion).</summary>
    public long HypercallExits { get; private set; }

    /// <summary>QEMU memslot changes.</summary>
    public long MemslotEvents { get; private set; }

    /// <summary>Faults the traced kernel mapped at <paramref name="level"/> (PG_LEVEL: 1 4K, 2 2M, 3 1G; 0 any other level).</summary>
    public long Mapped(int level) => _levels[level is >= 1 and <= 3 ? level : 0];

    /// <summary>Counts one op.</summary>
    public void Observe(in ReplayOp op)
    {
        switch (op.Kind)
        {
            case ReplayOpKind.Fault:
                Faults++;
                PrivateFaults += (op.ErrorCode & PrivateBits) != 0 ? 1 : 0;
                switch (op.Outcome)
                {
                    case TracedOutcome.Mapped: _levels[op.Level is >= 1 and <= 3 ? op.Level : 0]++; break;
                    case TracedOutcome.MemoryFaultExit: MemoryFaultExits++; break;
                    default: Unresolved++; break;
                }

                break;
            case ReplayOpKind.RmpFault: RmpFaults++; break;
            case ReplayOpKind.SetAttributes or ReplayOpKind.Convert: Conversions++; break;
            case ReplayOpKind.LaunchUpdate: LaunchUpdates++; break;
            case ReplayOpKind.SetMemslot: MemslotEvents++; break;
            case ReplayOpKind.HypercallExit: HypercallExits++; break;
        }
    }
}
