using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// Storage of RMP entries, one per 4 KiB host page, with every read and write that <see cref="RmpTable"/>'s
/// instruction semantics and run operations are built from. Three stores implement it: <see cref="RawRmpStore"/>
/// (the hardware table), <see cref="SegmentedRmpStore"/> (6.15+'s segmented table) and
/// <see cref="CompactRmpStore"/> (bitmaps plus detail records); all must return the same <see cref="Read"/> for
/// every page, and the same answer from every query, after the same sequence of writes.
/// </summary>
/// <remarks>
/// The canonical content (what <see cref="Read"/> returns) follows FastRmp's model of the table (docs/rmp.md):
/// a hypervisor-owned entry is all zero; a 4K guest entry has pagesize 0; a 2M entry is its 2 MiB-aligned head with
/// pagesize 1, and each of the 511 other entries of the region holds the head's state as a 4K entry (assigned,
/// immutable, asid, validated, VMPL permissions; gpa + i; vmsa 0) -- the state PSMASH exposes. Page numbers are
/// indices into the table (host pfns from 0). Callers validate ranges; stores do not re-check.
/// <para>
/// The table needs nothing beyond this interface: operations over runs of pages are members too, so that a store
/// with a fast form (the compact store's bitmaps and linear templates) answers them at once and the others walk
/// their entries, with identical results. <see cref="RmpTable"/> does not call through the interface: it is
/// specialised per store on a struct that forwards to the sealed class (RmpTable{TStore}), so each call is direct
/// and small ones are inlined.
/// </para>
/// </remarks>
public interface IRmpStore : IDisposable
{
    /// <summary>Number of 4 KiB pages the table covers.</summary>
    ulong Pages { get; }

    /// <summary>Bytes of memory the store holds.</summary>
    long MemoryBytes { get; }

    /// <summary>The assigned bit of the 4K entry of <paramref name="pfn"/>.</summary>
    bool IsAssigned(ulong pfn);

    /// <summary>True when the region's 2 MiB-aligned entry is an assigned 2M entry.</summary>
    bool IsHuge(ulong region);

    /// <summary>The lookup KVM makes (<c>snp_lookup_rmpentry</c>): the page's assigned bit and the region's level.</summary>
    RmpLookup Lookup(ulong pfn);

    /// <summary>
    /// <see cref="Lookup(ulong)"/> for every pfn of <paramref name="pfns"/> into <paramref name="results"/>, with the
    /// memory accesses of later pfns started early so cache misses overlap. Pfns must be in range.
    /// </summary>
    void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results);

    /// <summary>The whole 16-byte entry of <paramref name="pfn"/>.</summary>
    rmpentry_raw Read(ulong pfn);

    /// <summary>True when any entry of the region is assigned.</summary>
    bool AnyAssigned(ulong region);

    /// <summary>
    /// True when any entry of the region is assigned to <paramref name="asid"/> (a huge region: its 2M entry is). For
    /// whole-host pictures (<c>HostMemoryMap</c>), not the fault path; stops at the first matching entry.
    /// </summary>
    /// <remarks>The default reads the entries one by one; stores with bitmaps answer from them.</remarks>
    bool AnyAssignedTo(ulong region, uint asid)
    {
        ulong first = region << 9;
        ulong end = Math.Min(first + 512, Pages);
        for (ulong p = first; p < end; p++)
        {
            if (IsAssigned(p) && Read(p).asid == asid)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when any entry of the region is immutable.</summary>
    bool AnyImmutable(ulong region);

    /// <summary>Writes one 4K entry (pagesize 0); an unassigned entry must be all zero. The region is not huge.</summary>
    void Write4K(ulong pfn, rmpentry_raw entry);

    /// <summary>Makes the region one assigned 2M entry with <paramref name="head"/>'s state (pagesize set by the store).</summary>
    void Write2M(ulong region, rmpentry_raw head);

    /// <summary>Makes every entry of the region hypervisor-owned (all zero).</summary>
    void Clear2M(ulong region);

    /// <summary>Turns the huge region into 512 4K entries holding the state they already expose (PSMASH).</summary>
    void Smash(ulong region);

    /// <summary>True when no entry of [<paramref name="pfn"/>, + <paramref name="count"/>) is assigned.</summary>
    bool NoneAssigned(ulong pfn, ulong count);

    /// <summary>
    /// Writes assigned 4K entries of <paramref name="asid"/> at gpa <paramref name="gfn"/> + i (mutable, not validated,
    /// no VMSA, no VMPL permissions) into [<paramref name="pfn"/>, + <paramref name="count"/>): exactly what
    /// <see cref="Write4K"/> of each page, in address order, leaves. The caller keeps the run inside one region that
    /// is not huge, every page unassigned, and the ASID and gpas in range.
    /// </summary>
    void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn);

    /// <summary>
    /// Sets the validated bit of the pages [<paramref name="pfn"/>, + <paramref name="count"/>) of one region when
    /// each holds an assigned, mutable, unvalidated 4K entry of <paramref name="asid"/> at gpa <paramref name="gfn"/>
    /// + i in a region that is not huge: what a successful 4K PVALIDATE of each does. False, with nothing changed,
    /// when one would not succeed that way.
    /// </summary>
    bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn);

    /// <summary>
    /// Sets or clears the validated bit of the assigned 4K entry of <paramref name="pfn"/> (in a region that is not
    /// huge): what <see cref="Write4K"/> does when handed the entry <see cref="Read"/> returned with only validated
    /// changed.
    /// </summary>
    void SetValidated(ulong pfn, bool validated);

    /// <summary>
    /// True when every page of [<paramref name="pfn"/>, + <paramref name="count"/>) has an assigned entry of
    /// <paramref name="asid"/> at gpa <paramref name="gfn"/> + i (2M entries included). The run may cross regions.
    /// </summary>
    bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn);

    /// <summary>
    /// Counts, over [<paramref name="pfn"/>, + <paramref name="count"/>), the assigned entries of
    /// <paramref name="asid"/> that are 2M heads (<paramref name="heads2M"/>) and those that are 4K entries outside any
    /// 2M entry (<paramref name="entries4K"/>), as reading every entry would. The run may cross regions.
    /// </summary>
    void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K);

    /// <summary>
    /// Writes into <paramref name="mask"/> (8 words) which entries of a region that is not huge are assigned to
    /// <paramref name="asid"/>: bit i for page i of the region (0 past the end of the table).
    /// </summary>
    void GuestMask(ulong region, uint asid, Span<ulong> mask);
}
