using FastRmp.Interop;

namespace FastRmp.Engine.Kvm;

// Not KVM: the model's own memory-level parallelism (the replay and the fault-path benchmark use it). Internal: not
// part of the VM's modelled API.
public sealed unsafe partial class Vm
{
    /// <summary>
    /// Not KVM: whether a private fault starts loading its page-cache entry and NPT leaf as soon as it knows the slot
    /// (true). A caller that prefetched them itself, some faults ahead (<see cref="FaultLines"/>), turns it off.
    /// </summary>
    internal bool PrefetchInFault { get; set; } = true;

    /// <summary>The most addresses <see cref="FaultLines"/> gives.</summary>
    internal const int MaxFaultLines = 3;

    /// <summary>
    /// Not KVM: starts loading what a fault on <paramref name="gfn"/> will read first (its attributes, page-cache
    /// entry and NPT leaf slot), for callers that know their next accesses ahead, such as a replay reading its trace:
    /// called some faults ahead, the cache misses of random faults overlap instead of coming one after another. A
    /// hint: nothing is checked or changed.
    /// </summary>
    internal void PrefetchFault(gfn_t gfn)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            return;
        }

        Span<nint> lines = stackalloc nint[MaxFaultLines];
        foreach (nint line in lines[..FaultLines(gfn, lines)])
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0((void*)line);
        }
    }

    /// <summary>
    /// Not KVM: the addresses <see cref="PrefetchFault"/> would start loading (at most <see cref="MaxFaultLines"/>, into
    /// <paramref name="lines"/>; their number is returned). A caller with many faults ahead gathers them all, then issues
    /// the prefetches back to back: on a random fault each is a TLB miss, and walks started together overlap.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="lines"/> is shorter than <see cref="MaxFaultLines"/>.</exception>
    internal int FaultLines(gfn_t gfn, Span<nint> lines)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lines.Length, MaxFaultLines, nameof(lines));
        int slotIndex = Memslots.Find(0, gfn);
        if (slotIndex < 0)
        {
            return 0;
        }

        int n = 0;
        if (Attributes.WordLine(gfn) is var word && word != null)
        {
            lines[n++] = (nint)word;
        }

        if (Gmem.ByFileId(Memslots[slotIndex].gmem.file) is { } file && file.EntryLine(ref Memslots[slotIndex], gfn) is var entry && entry != null)
        {
            lines[n++] = (nint)entry;
        }

        if (Npt.LeafLine(gfn) is var leaf && leaf != null)
        {
            lines[n++] = (nint)leaf;
        }

        return n;
    }
}
