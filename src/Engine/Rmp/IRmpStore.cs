using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// Storage of RMP entries, one per 4 KiB host page, with the primitive reads and writes that
/// <see cref="RmpTable"/>'s instruction semantics are built from. Two stores implement it:
/// <see cref="RawRmpStore"/> (the hardware table) and <see cref="CompactRmpStore"/> (bitmaps plus detail records);
/// both must return the same <see cref="Read"/> for every page after the same sequence of writes.
/// </summary>
/// <remarks>
/// The canonical content (what <see cref="Read"/> returns) follows FastRmp's model of the table (docs/rmp.md):
/// a hypervisor-owned entry is all zero; a 4K guest entry has pagesize 0; a 2M entry is its 2 MiB-aligned head with
/// pagesize 1, and each of the 511 other entries of the region holds the head's state as a 4K entry (assigned,
/// immutable, asid, validated, VMPL permissions; gpa + i; vmsa 0) -- the state PSMASH exposes. Page numbers are
/// indices into the table (host pfns from 0). Callers validate ranges; stores do not re-check.
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
}
