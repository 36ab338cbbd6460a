using System.Numerics;
using System.Runtime.CompilerServices;
using FastRmp.Engine.Allocation;
using FastRmp.Interop;

namespace FastRmp.Engine.Rmp;

/// <summary>What a host's RMPOPT summary did over a run (<see cref="RmpOptSummary.Counters"/>): plain fields.</summary>
public struct RmpOptCounters
{
    /// <summary>Regions the RMPOPT pass at SNP initialisation found free of assigned pages and optimised.</summary>
    public long RegionsOptimized;

    /// <summary>Optimised regions turned off by an RMPUPDATE that assigned a page, or by a PSMASH, in them.</summary>
    public long RegionsDisabled;

    /// <summary>Regions a later pass (after a guest's teardown) found free of assigned pages again and optimised.</summary>
    public long RegionsReenabled;

    /// <summary>RMPOPT passes over the host's memory (the one at initialisation included).</summary>
    public long Passes;

    /// <summary>Host writes (pages) to regions that were not optimised: the CPU made the RMP check.</summary>
    public long HostWritesChecked;

    /// <summary>Host writes (pages) to optimised regions: the CPU skipped the RMP check.</summary>
    public long HostWritesSkipped;
}

/// <summary>
/// The host's RMPOPT state: one bit per 1 GiB region of host memory, set when the region holds no assigned RMP entry
/// and the CPU may skip the RMP check of hypervisor writes there. The option <see cref="Hosting.HostOptions.RmpOpt"/>
/// gives a host one.
/// </summary>
/// <remarks>
/// <para>
/// Models the RMPOPT series (Ashish Kalra, "Add RMPOPT support", v1 2026-02-17 to v10 2026-06-30; queued in tip
/// 2026-09-18 as 1ee97d0f7b20 and edb1b49e724e, per upstream-2024-2026.md) and AMD's description of the instruction
/// in it (AMD doc 69201, "AMD64 RMPOPT", not read): RMPOPT's verify-and-report function reads the RMP entries of the
/// 1 GiB region at a system physical address and sets the region's bit in the CPU's RMPOPT table when none is
/// assigned; RMPUPDATE that assigns a page clears the bit of its region (Kalra, 2026-02-17, "RMPUPDATE instruction
/// that mark new pages as assigned will automatically clear the optimizations"); splitting and collapsing large pages
/// clear it as well (v9 5/6, 2026-06-24). Hypervisor and non-SNP-guest writes are RMP-checked, and skip the check in
/// an optimised region; reads are not checked (cover letter of the series; AMD APM vol. 2 15.36). The kernel
/// optimises all memory once SNP is enabled, and after an SNP guest is destroyed it schedules another pass over all
/// memory (<c>snp_rmpopt_all_physmem</c> from <c>sev_vm_destroy</c>, v10 6/6), 10 s after the last teardown.
/// </para>
/// <para>
/// FastRmp's choices where the sources leave room (docs/rmpopt.md): the per-CPU tables are one table (the kernel runs
/// every pass on every CPU, and RMPUPDATE clears the bit on all of them); a to-shared RMPUPDATE does not clear a bit (in
/// an optimised region it changes no assigned state); only the first 2 TiB of host memory is covered (the series
/// enables RMPOPT "for up to 2TB of system RAM", v4 cover letter, 2026-04-13); the delayed pass runs when the model's
/// teardown ends (one guest per host: the pass after the last teardown is the only one). Not thread-safe; managed
/// memory only (a bit per GiB: 128 bytes for a 1 TiB host).
/// </para>
/// </remarks>
public sealed class RmpOptSummary
{
    /// <summary>log2 of the 4 KiB pages in a region (1 GiB).</summary>
    public const int RegionShift = 18;

    /// <summary>The host memory RMPOPT covers, from physical address 0: 2 TiB.</summary>
    public const ulong CoveredBytes = 2UL << 40;

    private readonly ulong[] _optimized;
    private RmpOptCounters _counters;

    /// <summary>A summary of a host of <paramref name="pages"/> 4 KiB pages with no region optimised yet.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pages"/> is 0.</exception>
    public RmpOptSummary(ulong pages)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pages);
        Pages = pages;
        Regions = (pages + (1UL << RegionShift) - 1) >> RegionShift;
        CoveredRegions = Math.Min(Regions, CoveredBytes >> (RegionShift + PageSize.Shift4K));
        _optimized = new ulong[(Regions + 63) >> 6];
    }

    /// <summary>Host memory in 4 KiB pages.</summary>
    public ulong Pages { get; }

    /// <summary>1 GiB regions of host memory (the last one may be partial).</summary>
    public ulong Regions { get; }

    /// <summary>The regions RMPOPT covers: the first 2 TiB.</summary>
    public ulong CoveredRegions { get; }

    /// <summary>What the summary did so far.</summary>
    public ref RmpOptCounters Counters => ref _counters;

    /// <summary>Regions optimised now.</summary>
    public long OptimizedRegions
    {
        get
        {
            long count = 0;
            foreach (ulong word in _optimized)
            {
                count += BitOperations.PopCount(word);
            }

            return count;
        }
    }

    /// <summary>The region of <paramref name="pfn"/>.</summary>
    public static ulong RegionOf(kvm_pfn_t pfn) => pfn.Value >> RegionShift;

    /// <summary>True when region <paramref name="region"/> is optimised (its hypervisor writes skip the RMP check).</summary>
    public bool IsOptimized(ulong region) => region < Regions && (_optimized[region >> 6] & (1UL << (int)region)) != 0;

    /// <summary>
    /// Models an RMPOPT pass over all host memory (verify and report on each covered 1 GiB region,
    /// <c>snp_rmpopt_all_physmem</c>'s work, RMPOPT v10): every covered region that is not optimised and holds no
    /// assigned entry in <paramref name="rmp"/> becomes optimised. Returns how many regions it optimised; they count
    /// as re-enabled when <paramref name="afterTeardown"/>, else as optimised.
    /// </summary>
    /// <remarks>
    /// Regions already optimised are left as they are: none can hold an assigned entry, since the assignment would
    /// have turned it off. Reading a region costs the store's run test over 2^18 entries (bitmaps in the compact
    /// store, 4 MiB of entries in the raw one). A table that never executed an assigning RMPUPDATE
    /// (<see cref="RmpCounters.RmpUpdateToPrivate"/> is 0) is not read at all: its entries are all hypervisor-owned.
    /// That relies on the table's own count, so a caller that resets <see cref="RmpTable.Counters"/> after assigning
    /// pages must not run a pass.
    /// </remarks>
    public long Pass(RmpTable rmp, bool afterTeardown)
    {
        ArgumentNullException.ThrowIfNull(rmp);
        if (rmp.Pages < Pages)
        {
            throw new ArgumentException($"The RMP covers {rmp.Pages} pages, the summary {Pages}.", nameof(rmp));
        }

        // A table nothing was ever assigned in holds no assigned entry (the stores start hypervisor-owned, as
        // snp_rmptable_init leaves the RMP): the pass at initialisation needs no reads.
        bool neverAssigned = rmp.Counters.RmpUpdateToPrivate == 0;
        long optimized = 0;
        for (ulong region = 0; region < CoveredRegions; region++)
        {
            ref ulong word = ref _optimized[region >> 6];
            ulong bit = 1UL << (int)region;
            if ((word & bit) != 0)
            {
                continue;
            }

            ulong first = region << RegionShift;
            ulong count = Math.Min(1UL << RegionShift, Pages - first);
            if (neverAssigned || rmp.Store.NoneAssigned(first, count))
            {
                word |= bit;
                optimized++;
            }
        }

        _counters.Passes++;
        if (afterTeardown)
        {
            _counters.RegionsReenabled += optimized;
        }
        else
        {
            _counters.RegionsOptimized += optimized;
        }

        return optimized;
    }

    /// <summary>
    /// The RMP changed in the region of <paramref name="pfn"/> in a way that ends its optimisation (an RMPUPDATE that
    /// assigned a page, a PSMASH): the region's bit is cleared, counted once when it was set.
    /// </summary>
    /// <remarks>
    /// Models the hardware clearing the region's RMPOPT bit (Kalra, 2026-02-17: RMPUPDATE marking pages assigned;
    /// RMPOPT v9 5/6, 2026-06-24: large pages split and collapsed). <see cref="RmpTable"/> calls it; a pfn past the
    /// host is ignored.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)] // kept out of the RMPUPDATE path, which only tests the summary for null
    public void Disable(ulong pfn)
    {
        ulong region = pfn >> RegionShift;
        if (region >= Regions)
        {
            return;
        }

        ref ulong word = ref _optimized[region >> 6];
        ulong bit = 1UL << (int)region;
        if ((word & bit) != 0)
        {
            word &= ~bit;
            _counters.RegionsDisabled++;
        }
    }

    /// <summary>
    /// The host writes <paramref name="pages"/> pages from <paramref name="pfn"/> on, all in one region (a folio being
    /// zeroed, a launch page being copied): counted as skipped RMP checks when the region is optimised now, else as
    /// checks made.
    /// </summary>
    /// <remarks>
    /// Models the RMP check of hypervisor writes and RMPOPT's skipping of it (AMD APM vol. 2 15.36: host writes are
    /// checked, reads are not; RMPOPT cover letter, 2026-02-17). The callers are the host writes the model makes:
    /// <c>kvm_gmem_get_pfn</c> zeroing a folio (virt/kvm/guest_memfd.c, 6.11-6.18) and <c>sev_gmem_post_populate</c>
    /// copying a launch page (arch/x86/kvm/svm/sev.c, 6.11-6.18); docs/rmpopt.md gives the rule. A folio never
    /// crosses a region (it is at most 1 GiB and aligned to its size).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)] // kept out of get_pfn's path, which only tests the summary for null
    public void HostWrite(kvm_pfn_t pfn, ulong pages)
    {
        if (IsOptimized(RegionOf(pfn)))
        {
            _counters.HostWritesSkipped += (long)pages;
        }
        else
        {
            _counters.HostWritesChecked += (long)pages;
        }
    }

    /// <summary>
    /// The host writes each page of <paramref name="pages"/>, in order, and each write is followed by an RMPUPDATE
    /// that assigns that page (zeroing a run of fresh 4 KiB folios, each then made private): what
    /// <see cref="HostWrite"/> then <see cref="Disable"/> page by page would count, without changing any bit (the
    /// RMPUPDATEs that follow do). The first page written in an optimised region skips the check; every later page of
    /// that region finds it turned off by the first page's RMPUPDATE.
    /// </summary>
    public void HostWritesEachBeforeAssign(ReadOnlySpan<PfnRange> pages)
    {
        // A run lies in few regions: remember the optimised ones already met in a small list.
        Span<ulong> met = stackalloc ulong[8];
        int metCount = 0;
        long total = 0, skipped = 0;
        foreach (var range in pages)
        {
            total += (long)range.Count;
            for (ulong p = range.First.Value, end = p + range.Count; p < end;)
            {
                ulong region = p >> RegionShift;
                ulong stop = Math.Min(end, (region + 1) << RegionShift);
                if (IsOptimized(region) && met[..metCount].IndexOf(region) < 0)
                {
                    skipped++;
                    if (metCount == met.Length)
                    {
                        Span<ulong> larger = new ulong[met.Length * 2];
                        met.CopyTo(larger);
                        met = larger;
                    }

                    met[metCount++] = region;
                }

                p = stop;
            }
        }

        _counters.HostWritesSkipped += skipped;
        _counters.HostWritesChecked += total - skipped;
    }
}
