using System.Diagnostics;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>
    /// Checks the whole VM against the model's invariants and throws <see cref="InvalidOperationException"/> naming
    /// the first broken one: (1) no private NPT leaf is above its RMP level; (2) every private-mapped gfn maps a pfn
    /// assigned to this VM's ASID at that gfn (SNP); (3) no pfn is in two folios, or in a folio and shared memory;
    /// (4) every live folio and shared page is allocated in the host allocator; (5) with <paramref name="freedAreShared"/>,
    /// no free host page is assigned in the RMP. O(mapped + folio pages); for tests.
    /// </summary>
    public void Verify(bool freedAreShared = true)
    {
        // One bit per host pfn: which pfns some folio or shared page already owns.
        ulong hostPages = Rmp?.Pages ?? 0;
        foreach (var file in Gmem.Files)
        {
            file.ForEachFolio((_, pfn, order) => hostPages = Math.Max(hostPages, pfn.Value + (1UL << order)));
        }

        foreach (ulong pfn in _sharedPfns.Values)
        {
            hostPages = Math.Max(hostPages, pfn + 1);
        }

        var owned = new ulong[(hostPages + 63) / 64];
        foreach (var file in Gmem.Files)
        {
            file.ForEachFolio((index, pfn, order) =>
            {
                // A folio is one allocator block: one ownership check covers it, every page gets its bit.
                Own(owned, pfn.Value, file.Fd, index);
                for (ulong i = 1; i < 1UL << order; i++)
                {
                    Claim(owned, pfn.Value + i, file.Fd, index + i);
                }
            });
        }

        foreach (var (gfn, pfn) in _sharedPfns)
        {
            Own(owned, pfn, -1, gfn);
        }

        if (Rmp is not null)
        {
            var visitor = new LeafChecker(this);
            Npt.ForEachLeaf(ref visitor);
            if (freedAreShared)
            {
                for (ulong region = 0; region < (Rmp.Pages + 511) / 512; region++)
                {
                    if (!Rmp.Store.AnyAssigned(region))
                    {
                        continue;
                    }

                    ulong first = region * 512, end = Math.Min(first + 512, Rmp.Pages);
                    for (ulong p = first; p < end; p = Rmp.Store.IsHuge(region) ? end : p + 1)
                    {
                        var pfn = new kvm_pfn_t(p);
                        if (Rmp.Store.IsAssigned(p) && Rmp.Read(pfn).asid == Config.Asid && _allocator.IsFree(pfn))
                        {
                            throw new InvalidOperationException($"pfn 0x{p:x} is free in the host allocator but still assigned to ASID {Config.Asid} in the RMP.");
                        }
                    }
                }
            }
        }
    }

    /// <summary>Debug builds check invariants (1) and (2) for the page a fault just mapped.</summary>
    [Conditional("DEBUG")]
    private void DebugCheckLeaf(gfn_t gfn)
    {
        var leaf = Npt.Lookup(gfn);
        if (Rmp is not null && leaf.IsPrivate)
        {
            CheckPrivateLeaf(gfn, leaf, huge: false);
        }
    }

    /// <summary>Names an owner for an error message: file page <paramref name="index"/> of guest_memfd <paramref name="fd"/>, or shared gfn <paramref name="index"/> when fd is -1.</summary>
    private static string Owner(int fd, ulong index) => fd < 0 ? $"shared gfn 0x{index:x}" : $"guest_memfd {fd} index 0x{index:x}";

    private static void Claim(ulong[] owned, ulong pfn, int fd, ulong index)
    {
        ref ulong word = ref owned[pfn >> 6];
        ulong bit = 1UL << (int)pfn;
        if ((word & bit) != 0)
        {
            throw new InvalidOperationException($"pfn 0x{pfn:x} ({Owner(fd, index)}) belongs to two owners.");
        }

        word |= bit;
    }

    private void Own(ulong[] owned, ulong pfn, int fd, ulong index)
    {
        Claim(owned, pfn, fd, index);
        if (_allocator.IsFree(new kvm_pfn_t(pfn)))
        {
            throw new InvalidOperationException($"pfn 0x{pfn:x} ({Owner(fd, index)}) is free in the host allocator.");
        }
    }

    /// <summary>Invariants (1) and (2) for one private leaf; <paramref name="huge"/> checks every page, else the first.</summary>
    private void CheckPrivateLeaf(gfn_t first, NptLeaf leaf, bool huge)
    {
        ulong pages = huge ? 1UL << ((int)(leaf.Level - 1) * 9) : 1;
        ulong step = 1;
        if (pages >= 512 && Rmp!.Lookup(leaf.Pfn).Level == PgLevel.Level2M)
        {
            step = 512; // a 2M entry gives all its 512 pages the head's owner and contiguous gpas
        }

        for (ulong i = 0; i < pages; i += step)
        {
            var pfn = leaf.Pfn + i;
            var lookup = Rmp!.Lookup(pfn);
            if (leaf.Level > lookup.Level && !(leaf.Level == PgLevel.Level1G && lookup.Level == PgLevel.Level2M))
            {
                throw new InvalidOperationException($"gfn 0x{first.Value + i:x} is mapped private at {leaf.Level} over a {lookup.Level} RMP entry (pfn 0x{pfn.Value:x}).");
            }

            var entry = Rmp.Read(pfn);
            if (!entry.assigned || entry.asid != Config.Asid || entry.gpa != first.Value + i)
            {
                throw new InvalidOperationException($"gfn 0x{first.Value + i:x} is mapped private to pfn 0x{pfn.Value:x}, whose RMP entry is assigned={entry.assigned} asid={entry.asid} gpa=0x{entry.gpa:x}.");
            }
        }
    }

    private readonly struct LeafChecker(Vm vm) : INptVisitor
    {
        public void Leaf(gfn_t gfn, NptLeaf leaf)
        {
            if (leaf.IsPrivate)
            {
                vm.CheckPrivateLeaf(gfn, leaf, huge: true);
            }
        }
    }
}
