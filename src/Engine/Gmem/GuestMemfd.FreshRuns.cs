using System.Runtime.InteropServices;
using FastRmp.Engine.Allocation;

namespace FastRmp.Engine.Gmem;

public sealed unsafe partial class GuestMemfd
{
    /// <summary>
    /// How many file pages from <paramref name="index"/> on (at most <paramref name="count"/>) get_pfn would fill with
    /// a fresh 4 KiB folio: the file is open and allocates order-0 folios, the pages are bound to memslot
    /// <paramref name="slotIndex"/>, and their page-cache entries hold nothing (no folio, never populated or
    /// poisoned). 0 when the first page does not qualify.
    /// </summary>
    internal ulong FreshRun(int slotIndex, ulong index, ulong count)
    {
        if (!IsOpen || FolioOrder != 0 || _partlyPopulated.Count != 0 || _twoMegHints is not null || index >= Pages)
        {
            return 0;
        }

        Binding bound = default;
        bool found = false;
        foreach (var b in CollectionsMarshal.AsSpan(_bindings))
        {
            if (index - b.Pgoff < b.Npages)
            {
                bound = b;
                found = true;
                break;
            }
        }

        if (!found || bound.Slot != slotIndex)
        {
            return 0;
        }

        count = Math.Min(count, bound.Pgoff + bound.Npages - index);
        ulong n = 0;
        while (n < count)
        {
            ulong* chunk = _chunks[(index + n) >> ChunkShift];
            ulong stop = Math.Min(count, ((((index + n) >> ChunkShift) + 1) << ChunkShift) - index);
            if (chunk == null)
            {
                // A chunk never touched holds nothing; a linear chunk, nothing outside its entries.
                ulong empty = LinearEmptyRun(index + n, stop - n);
                n += empty;
                if (n < stop)
                {
                    return n;
                }

                continue;
            }

            for (; n < stop; n++)
            {
                if (chunk[(index + n) & ((1UL << ChunkShift) - 1)] != 0)
                {
                    return n;
                }
            }
        }

        return n;
    }

    /// <summary>
    /// Puts 4 KiB folios for the pages of <paramref name="pages"/>, in order, at file pages <paramref name="index"/>
    /// onwards (a <see cref="FreshRun"/>), present and up to date: what get_pfn's allocation
    /// (<c>kvm_gmem_get_folio</c>) and its first-use marking leave for each page, without the arch hooks, which the
    /// caller runs for the whole run.
    /// </summary>
    internal void InsertFreshRun(ulong index, ReadOnlySpan<PfnRange> pages)
    {
        ThrowIfFreed();
        const ulong bits = UptodateBit | PresentBit;
        foreach (var range in pages)
        {
            if (!TryAppendLinear(index, range.First.Value, range.Count, bits, 1))
            {
                ulong* e = null;
                for (ulong i = 0; i < range.Count; i++)
                {
                    ulong at = index + i;
                    if (e == null || (at & ((1UL << ChunkShift) - 1)) == 0)
                    {
                        e = EntryPointer(at, create: true) - i;
                    }

                    e[i] = ((range.First.Value + i) << PfnShift) | bits;
                }
            }

            index += range.Count;
            FoliosByOrder[0] += (long)range.Count;
        }
    }
}
