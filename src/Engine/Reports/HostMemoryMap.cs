using FastRmp.Engine.Allocation;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;

namespace FastRmp.Engine.Reports;

/// <summary>
/// A picture of the host's physical memory for one guest: one <see cref="HostRegionState"/> per 2 MiB region, in
/// pfn order, taken from the RMP and the page allocator at one moment.
/// Immutable once built: safe to share between threads.
/// </summary>
/// <remarks>
/// <para>
/// A region is, checked in this order: <see cref="HostRegionState.Private2M"/> when its 2M RMP entry is assigned to
/// the guest's ASID; <see cref="HostRegionState.Smashed"/> when it holds 4K entries assigned to the ASID and was
/// split by PSMASH (<see cref="RmpTable.IsSmashed"/>); <see cref="HostRegionState.Private4K"/> when it holds 4K
/// entries assigned to the ASID and was never smashed; <see cref="HostRegionState.Free"/> when every page is free in
/// the allocator; otherwise <see cref="HostRegionState.Shared"/> (allocated, nothing private to this guest). Pages
/// the allocator does not manage count as allocated. Region r covers pfns [512 r, 512 r + 512) of the RMP (pfn 0 is
/// the RMP's first page; the allocator must number pages the same way); the last region may be partial.
/// </para>
/// <para>
/// Capture reads no entry through <see cref="RmpTable.Read"/>: per region it asks the store whether anything is
/// assigned (<see cref="IRmpStore.AnyAssigned"/>, eight bitmap words in the compact store) and, only then, whether
/// anything is assigned to the ASID (<see cref="IRmpStore.AnyAssignedTo"/>, which stops at the first match), and it
/// asks the allocator whether the region is free (<see cref="BuddyAllocator.IsSpanFree"/>, at most a few bit tests).
/// A 1 TiB host (524,288 regions) takes tens of milliseconds with the compact store. Immutable once captured.
/// </para>
/// </remarks>
public sealed class HostMemoryMap
{
    /// <summary>4 KiB pages per region.</summary>
    public const int PagesPerRegion = 512;

    private readonly HostRegionState[] _regions;
    private readonly long[] _counts;

    private HostMemoryMap(ulong hostPages, HostRegionState[] regions)
    {
        HostPages = hostPages;
        _regions = regions;
        _counts = new long[5];
        foreach (var state in regions)
        {
            _counts[(int)state]++;
        }
    }

    /// <summary>Pages of host memory the map covers (the RMP's pages).</summary>
    public ulong HostPages { get; }

    /// <summary>One state per 2 MiB region, region 0 first.</summary>
    public ReadOnlySpan<HostRegionState> Regions => _regions;

    /// <summary>Captures the map of <paramref name="rmp"/>'s pages for the guest with <paramref name="asid"/>.</summary>
    /// <exception cref="ArgumentNullException">A null table or allocator.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public static HostMemoryMap Capture(RmpTable rmp, BuddyAllocator allocator, uint asid)
    {
        ArgumentNullException.ThrowIfNull(rmp);
        ArgumentNullException.ThrowIfNull(allocator);
        var store = rmp.Store;
        ulong pages = rmp.Pages;
        var regions = new HostRegionState[(pages + PagesPerRegion - 1) / PagesPerRegion];
        for (ulong r = 0; r < (ulong)regions.Length; r++)
        {
            ulong first = r * PagesPerRegion;
            HostRegionState state;
            if (store.AnyAssigned(r) && store.AnyAssignedTo(r, asid))
            {
                state = store.IsHuge(r) ? HostRegionState.Private2M
                    : rmp.IsSmashed(r) ? HostRegionState.Smashed
                    : HostRegionState.Private4K;
            }
            else
            {
                state = allocator.IsSpanFree(new kvm_pfn_t(first), Math.Min(PagesPerRegion, pages - first))
                    ? HostRegionState.Free
                    : HostRegionState.Shared;
            }

            regions[r] = state;
        }

        return new HostMemoryMap(pages, regions);
    }

    /// <summary>
    /// The map of a TDX host, where the RMP says nothing: a region is private 2M when a private 2 MiB leaf of
    /// <paramref name="npt"/> (KVM's mirror of the TD's Secure EPT) maps it, private 4K when a private 4 KiB leaf maps a
    /// page of it, else shared or free as the allocator says. (A demoted 2 MiB page shows as private 4K: TDX has no
    /// "smashed" RMP state.)
    /// </summary>
    /// <exception cref="ArgumentNullException">A null table or allocator.</exception>
    /// <exception cref="ObjectDisposedException">The table or the allocator was disposed.</exception>
    public static HostMemoryMap CaptureMirror(Kvm.NptMap npt, BuddyAllocator allocator)
    {
        ArgumentNullException.ThrowIfNull(npt);
        ArgumentNullException.ThrowIfNull(allocator);
        ulong pages = allocator.PageCount;
        var regions = new HostRegionState[(pages + PagesPerRegion - 1) / PagesPerRegion];
        var visitor = new PrivateLeafMarker(regions);
        npt.ForEachLeaf(ref visitor);
        for (ulong r = 0; r < (ulong)regions.Length; r++)
        {
            if (regions[r] == HostRegionState.Free)
            {
                ulong first = r * PagesPerRegion;
                regions[r] = allocator.IsSpanFree(new kvm_pfn_t(first), Math.Min(PagesPerRegion, pages - first)) ? HostRegionState.Free : HostRegionState.Shared;
            }
        }

        return new HostMemoryMap(pages, regions);
    }

    private readonly struct PrivateLeafMarker(HostRegionState[] regions) : Kvm.INptVisitor
    {
        public void Leaf(gfn_t gfn, Kvm.NptLeaf leaf)
        {
            ulong region = leaf.Pfn.Value / PagesPerRegion;
            if (!leaf.IsPrivate || region >= (ulong)regions.Length)
            {
                return;
            }

            if (leaf.Level == Interop.Kernel.PgLevel.Level4K)
            {
                if (regions[region] != HostRegionState.Private2M)
                {
                    regions[region] = HostRegionState.Private4K;
                }

                return;
            }

            ulong count = leaf.Level == Interop.Kernel.PgLevel.Level1G ? 512UL : 1UL;
            for (ulong i = 0; i < count && region + i < (ulong)regions.Length; i++)
            {
                regions[region + i] = HostRegionState.Private2M;
            }
        }
    }

    /// <summary>
    /// A map from states already known (a report read back, a test): <paramref name="regions"/> must hold one state
    /// per 2 MiB region of <paramref name="hostPages"/> pages.
    /// </summary>
    /// <exception cref="ArgumentException">The number of regions does not match, or a state is undefined.</exception>
    public static HostMemoryMap FromRegions(ulong hostPages, ReadOnlySpan<HostRegionState> regions)
    {
        ulong expected = (hostPages + PagesPerRegion - 1) / PagesPerRegion;
        if ((ulong)regions.Length != expected || hostPages == 0)
        {
            throw new ArgumentException($"{hostPages} pages make {expected} regions of 2 MiB; got {regions.Length} states.", nameof(regions));
        }

        foreach (var state in regions)
        {
            if (state > HostRegionState.Smashed)
            {
                throw new ArgumentException($"{(byte)state} is not a {nameof(HostRegionState)}.", nameof(regions));
            }
        }

        return new HostMemoryMap(hostPages, regions.ToArray());
    }

    /// <summary>Regions in state <paramref name="state"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An undefined state.</exception>
    public long Count(HostRegionState state)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((byte)state, (byte)HostRegionState.Smashed, nameof(state));
        return _counts[(int)state];
    }
}
