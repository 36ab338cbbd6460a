using FastRmp.Engine.Allocation;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
#if DEBUG
    /// <summary>The most pages one fresh run holds: tiny in Debug builds, so every test crosses run edges.</summary>
    internal const int FreshRunLimit = 3;
#else
    /// <summary>The most pages one fresh run holds (one 2 MiB block).</summary>
    internal const int FreshRunLimit = 512;
#endif

    /// <summary>
    /// The private faults of a run of fresh pages from <paramref name="gfn"/> (at most <paramref name="max"/> and
    /// <see cref="FreshRunLimit"/>, inside one 2 MiB block), as <see cref="HandleFault(ref kvm_page_fault_v6_13)"/>
    /// would take them one by one: get_pfn allocating a 4 KiB folio, the policy's prepare, the 4K leaf. Returns the
    /// pages faulted in (0: none qualified, nothing changed) and their pfns in <paramref name="ranges"/>
    /// (<paramref name="rangeCount"/> runs), for the guest's PVALIDATE of the run.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A page is fresh when it lies in the same memslot as the first, is private in the memory attributes, no NPT
    /// leaf maps it, and its guest_memfd page (4 KiB folios, bound to that slot) holds nothing; the folio the
    /// allocator hands it must be hypervisor-owned in the RMP and not in use, and the policy must know its work for
    /// such a folio (<see cref="IKvmArch.PreparesFreshRuns4K"/>). For such a page every step of the per-page path
    /// has one outcome: the fault passes every check of <see cref="HandleFault(ref kvm_page_fault_v6_13)"/>, get_pfn
    /// allocates an order-0 folio (max_level 4K, so no hugepage adjustment and no clamp), the policy converts the page
    /// at 4K and the leaf is new. Pages do not affect each other's steps, so each step is done for the run at once,
    /// and counted by the same code the per-page path counts with (<see cref="CountFault"/>, <see cref="CountMapped"/>).
    /// </para>
    /// <para>Not a kernel path: the model's shortcut, checked against the per-page path by the tests.</para>
    /// </remarks>
    public ulong FaultInFreshRun4K(gfn_t gfn, ulong max, Span<PfnRange> ranges, out int rangeCount)
    {
        ThrowIfDisposed();
        rangeCount = 0;
        if (Rmp is null || Arch is null || Gmem.Arch != Arch || Gmem.PrepareMode != Arch.PrepareMode || !Arch.PreparesFreshRuns4K)
        {
            return 0;
        }

        ulong count = Npt.UnmappedRun(gfn, Math.Min(max, (ulong)Math.Min(ranges.Length, FreshRunLimit)));
        int slotIndex = count == 0 ? -1 : Memslots.Find(0, gfn);
        if (slotIndex < 0)
        {
            return 0;
        }

        ref var slot = ref Memslots[slotIndex];
        var file = Gmem.ByFileId(slot.gmem.file);
        if (file is null || (slot.flags & (uint)MemslotFlags.Invalid) != 0)
        {
            return 0;
        }

        count = Math.Min(count, slot.base_gfn.Value + slot.npages - gfn.Value);
        count = PrivateRun(gfn, count);
        ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
        count = count == 0 ? 0 : file.FreshRun(slotIndex, index, count);
        if (count == 0)
        {
            return 0;
        }

        var filter = new HypervisorOwned(Rmp);
        ulong n = Gmem.Allocator.TryAllocateRun(count, ranges, out rangeCount, ref filter);
        if (n == 0)
        {
            return 0;
        }

        ReadOnlySpan<PfnRange> pages = ranges[..rangeCount];
        CountFault(isPrivate: true, (long)n);
        file.InsertFreshRun(index, pages);
        Gmem.RmpOpt?.HostWritesEachBeforeAssign(pages); // get_pfn zeroes each folio, then the policy assigns it
        Arch.PrepareFreshRun4K(file, index, gfn, pages);
        Npt.MapRun4K(gfn, pages, isPrivate: true);
        CountMapped(PgLevel.Level4K, (long)n);
        for (ulong i = 0; i < n; i++)
        {
            DebugCheckLeaf(gfn + i);
        }

        return n;
    }

    // How many gfns from gfn on (at most count) are private.
    private ulong PrivateRun(gfn_t gfn, ulong count)
    {
        if (Attributes.RangeIs(gfn, count, true))
        {
            return count;
        }

        ulong n = 0;
        while (n < count && Attributes.IsPrivate(gfn + n))
        {
            n++;
        }

        return n;
    }

    /// <summary>The pages a run of fresh folios may take: hypervisor-owned in the RMP and not in use.</summary>
    private readonly struct HypervisorOwned(RmpTable rmp) : IPfnRunFilter
    {
        public bool Accept(kvm_pfn_t first, ulong count) => rmp.IsHypervisorOwnedRun(first, count);
    }
}
