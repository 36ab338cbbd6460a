using FastRmp.Engine.Gmem;
using FastRmp.Interop;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// What KVM hands a vendor hook that acts on the VM (<c>sev_handle_rmp_fault(vcpu, ...)</c> reaches the VM through
/// its vCPU; the RFC v4 07/10 fault-path hook <c>gmem_prepare(kvm, slot, ...)</c> gets the VM and reads its memory
/// attributes): the memslots, memory attributes and guest_memfd files it reads, and the one change it may make, a zap
/// counted in the VM's counters. Made for one call and passed by ref; hooks keep no pointer to the VM.
/// </summary>
public readonly ref struct KvmHookContext
{
    private readonly NptMap _npt;
    private readonly ref VmCounters _counters;

    internal KvmHookContext(Memslots memslots, MemoryAttributeMap attributes, GmemFiles gmem, NptMap npt, ref VmCounters counters)
    {
        Memslots = memslots;
        Attributes = attributes;
        Gmem = gmem;
        _npt = npt;
        _counters = ref counters;
    }

    /// <summary>The VM's memslots.</summary>
    public Memslots Memslots { get; }

    /// <summary>The VM's memory attributes.</summary>
    public MemoryAttributeMap Attributes { get; }

    /// <summary>The VM's guest_memfd files.</summary>
    public GmemFiles Gmem { get; }

    /// <summary>The VM's NPT (mirror) leaf that maps <paramref name="gfn"/>.</summary>
    public NptLeaf Lookup(gfn_t gfn) => _npt.Lookup(gfn);

    /// <summary>
    /// Zaps the 2 MiB-aligned range around <paramref name="gfn"/> (<c>kvm_zap_gfn_range</c>, arch/x86/kvm/mmu/mmu.c,
    /// 6.18) and counts the SPTEs zapped; returns them.
    /// </summary>
    public long ZapHugepage(gfn_t gfn)
    {
        var start = new gfn_t(gfn.Value & ~511UL);
        long zapped = _npt.Zap(start, start + 512);
        _counters.Zapped += zapped;
        return zapped;
    }
}
