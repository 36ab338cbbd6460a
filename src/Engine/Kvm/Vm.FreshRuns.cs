using FastRmp.Engine.Allocation;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>Pages the batched fault path handled (a statistic of the model, not of KVM; not in the reports).</summary>
    public long BatchedFaultPages { get; private set; }

    /// <summary>
    /// The guest's 4K PVALIDATE of each page of [<paramref name="gpa"/>, + <paramref name="pages"/> × 4 KiB), in
    /// order: the same state, counters and results as <see cref="GuestPvalidate"/>(page, 4K,
    /// <paramref name="validate"/>) page by page. Returns how many PVALIDATEs succeeded.
    /// </summary>
    /// <remarks>
    /// This is how a guest accepts memory its 2M PVALIDATE could not (Linux's and OVMF's fallback on
    /// FAIL_SIZEMISMATCH). With 4 KiB folios each page then takes an #NPF and a first private fault before its
    /// PVALIDATE completes. Where a stretch of pages is fresh (see <see cref="TryFaultInFreshRun"/>) and
    /// <see cref="VmConfig.BatchFreshFaults"/> is set, the faults and PVALIDATEs of the stretch are done as one run;
    /// every other page goes through <see cref="GuestPvalidate"/>.
    /// </remarks>
    public long GuestPvalidateRange(gpa_t gpa, ulong pages, bool validate)
    {
        long succeeded = 0;
        for (ulong i = 0; i < pages;)
        {
            var page = new gpa_t(gpa.Value + (i << PageSize.Shift4K));
            if (validate && Config.BatchFreshFaults)
            {
                ulong done = TryFaultInFreshRun(page.Gfn, pages - i, out long validated);
                if (done != 0)
                {
                    succeeded += validated;
                    i += done;
                    continue;
                }
            }

            succeeded += GuestPvalidate(page, RmpPageSize.Size4K, validate) == PvalidateResult.Success ? 1 : 0;
            i++;
        }

        return succeeded;
    }

    /// <summary>
    /// Faults in and validates a run of fresh pages from <paramref name="gfn"/> (at most <paramref name="max"/>, inside
    /// one 2 MiB block), as the guest's 4K PVALIDATE of each would one by one: the #NPF, the private fault
    /// (<see cref="HandleFault"/>: get_pfn allocating a 4 KiB folio, the policy's prepare, the 4K leaf), then the
    /// PVALIDATE. Returns the pages done (0: none qualified, nothing changed) and, in
    /// <paramref name="validated"/>, how many PVALIDATEs succeeded.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A page is fresh when it lies in the same memslot as the first, is private in the memory attributes, no NPT
    /// leaf maps it, and its guest_memfd page (4 KiB folios, bound to that slot) holds nothing; the folio the
    /// allocator hands it must be hypervisor-owned in the RMP and not in use, and the policy must know its work for
    /// such a folio (<see cref="IKvmArch.PreparesFreshRuns4K"/>). For such a page every step of the per-page path
    /// has one outcome: the fault passes every check of <see cref="HandleFault"/>, get_pfn allocates an order-0
    /// folio (max_level 4K, so no hugepage adjustment and no clamp), the policy converts the page at 4K, the leaf is
    /// new, and the PVALIDATE succeeds. Pages do not affect each other's steps, so the run does each step for all
    /// pages at once and adds what the per-page path counts: faults, allocations, folios, the policy's lookups and
    /// RMPUPDATEs, 4K leaves, PVALIDATEs.
    /// </para>
    /// <para>Not a kernel path: the model's shortcut, checked against the per-page path by the tests.</para>
    /// </remarks>
    private ulong TryFaultInFreshRun(gfn_t gfn, ulong max, out long validated)
    {
        validated = 0;
        if (Rmp is null || Arch is null || Gmem.Arch != Arch || Gmem.PrepareMode != Arch.PrepareMode || !Arch.PreparesFreshRuns4K(this))
        {
            return 0;
        }

        ulong count = Npt.UnmappedRun(gfn, Math.Min(max, 512));
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

        Span<PfnRange> ranges = stackalloc PfnRange[512];
        var filter = new HypervisorOwned(Rmp);
        ulong n = Gmem.Allocator.TryAllocateRun(count, ranges, out int rangeCount, ref filter);
        if (n == 0)
        {
            return 0;
        }

        ReadOnlySpan<PfnRange> pages = ranges[..rangeCount];
        Counters.FaultsPrivate += (long)n;
        file.InsertFreshRun(index, pages);
        Arch.PrepareFreshRun4K(this, file, index, gfn, pages);
        Npt.MapRun4K(gfn, pages, isPrivate: true);
        Counters.Mapped.Level4K += (long)n;
        for (ulong i = 0; i < n; i++)
        {
            DebugCheckLeaf(gfn + i);
        }

        // Every entry was just made a 4K entry of this guest at its gfn, not validated: each PVALIDATE succeeds.
        ulong done = Rmp.PvalidateRun4K(pages, Config.Asid, gfn);
        validated = (long)done;
        for (ulong i = done; i < n; i++)
        {
            validated += GuestPvalidate((gfn + i).Gpa, RmpPageSize.Size4K, true) == PvalidateResult.Success ? 1 : 0;
        }

        BatchedFaultPages += (long)n;
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
