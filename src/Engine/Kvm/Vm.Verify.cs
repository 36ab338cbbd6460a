using System.Diagnostics;
using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>
    /// Checks the whole VM against the model's invariants and throws <see cref="InvalidOperationException"/> naming
    /// the first broken one: (1) no private NPT leaf is above its RMP level; (2) every private-mapped gfn maps a pfn
    /// assigned to this VM's ASID at that gfn, or one assigned to nobody (SNP; see <see cref="CheckPrivateLeaf"/>); (3) no pfn is in two folios, or in a folio and shared memory;
    /// (4) every live folio and shared page is allocated in the host allocator; (5) with <paramref name="freedAreShared"/>,
    /// no free host page is assigned in the RMP. O(mapped + folio pages); for tests.
    /// </summary>
    public void Verify(bool freedAreShared = true)
    {
        ThrowIfDisposed();
        // One bit per host pfn: which pfns some folio or shared page already owns.
        ulong hostPages = Rmp?.Pages ?? 0;
        var extent = new FolioExtent();
        foreach (var file in Gmem.Files)
        {
            file.ForEachFolioRun(ref extent);
        }

        hostPages = Math.Max(hostPages, extent.End);
        _sharedPfns.ForEach((_, pfn) => hostPages = Math.Max(hostPages, pfn.Value + 1));

        var owned = new ulong[(hostPages + 63) / 64];
        foreach (var file in Gmem.Files)
        {
            var owner = new FolioOwner(this, owned, file.Fd);
            file.ForEachFolioRun(ref owner);
        }

        _sharedPfns.ForEach((gfn, pfn) => Own(owned, pfn.Value, -1, gfn.Value));

        if (Rmp is not null)
        {
            var visitor = new LeafChecker(this);
            Npt.ForEachLeafRun(ref visitor);
            if (freedAreShared)
            {
                var buddy = BuddyBehind(_allocator);
                for (ulong region = 0; region < (Rmp.Pages + 511) / 512; region++)
                {
                    if (!Rmp.Store.AnyAssigned(region))
                    {
                        continue;
                    }

                    ulong first = region * 512, end = Math.Min(first + 512, Rmp.Pages);
                    if (buddy is not null && first >= buddy.BasePfn.Value && end <= buddy.EndPfn.Value
                        && !buddy.AnyFree(new kvm_pfn_t(first), end - first))
                    {
                        continue; // no page of the region is free: nothing below could fail
                    }

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

    /// <summary>
    /// False for a host a test deliberately built against the invariants (a free page left assigned in the RMP, an
    /// in-use page handed out), whose faults then map what the checks refuse and whose outcome the test compares.
    /// </summary>
    internal bool DebugLeafChecks { get; set; } = true;

    /// <summary>Debug builds check invariants (1) and (2) for the page a fault just mapped.</summary>
    [Conditional("DEBUG")]
    private void DebugCheckLeaf(gfn_t gfn)
    {
        if (!DebugLeafChecks)
        {
            return;
        }

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
    /// <remarks>
    /// KVM maps what guest_memfd hands it and does not look at the RMP; the vendor's hooks are what make the page the
    /// guest's. A hook may leave a page hypervisor-owned (merged <c>sev_gmem_prepare</c> with 1 GiB folios; 7.0's
    /// prepare of a large folio populate filled in part): the leaf then maps a page assigned to nobody, which is safe
    /// (the hardware raises #NPF(RMP) on every guest access, and the guest's driver counts the access as stuck) and is
    /// allowed here. A page assigned to another ASID or at another gpa is a leak, and is not.
    /// </remarks>
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
            if (entry.assigned && (entry.asid != Config.Asid || entry.gpa != first.Value + i))
            {
                throw new InvalidOperationException($"gfn 0x{first.Value + i:x} is mapped private to pfn 0x{pfn.Value:x}, whose RMP entry is {entry} (gfn 0x{entry.gpa:x}).");
            }
        }
    }

    /// <summary>
    /// Owns the folios of one run: a run of 4K folios whose pfns are all unowned and none of them free is owned with
    /// word writes; anything else goes folio by folio, so the first broken invariant is reported as before.
    /// </summary>
    private bool TryOwnRun(ulong[] owned, ulong pfn, ulong pages)
    {
        if (BuddyBehind(_allocator) is not { } buddy || pfn < buddy.BasePfn.Value || pfn + pages > buddy.EndPfn.Value
            || pfn + pages > (ulong)owned.Length * 64 || !BitsClear(owned, pfn, pages) || buddy.AnyFree(new kvm_pfn_t(pfn), pages))
        {
            return false;
        }

        for (ulong i = pfn, end = pfn + pages; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            owned[i >> 6] |= (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << offset;
            i += (ulong)n;
        }

        return true;
    }

    /// <summary>
    /// The buddy allocator whose free pages <paramref name="allocator"/> reports (itself, or the one a replay's
    /// <see cref="TracedPfnAllocator"/> claims from), for the range tests; null for other allocators.
    /// </summary>
    private static BuddyAllocator? BuddyBehind(IFolioAllocator allocator)
        => allocator as BuddyAllocator ?? (allocator as TracedPfnAllocator)?.Inner;

    private static bool BitsClear(ulong[] bits, ulong first, ulong count)
    {
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            if ((bits[i >> 6] & ((n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << offset)) != 0)
            {
                return false;
            }

            i += (ulong)n;
        }

        return true;
    }

    private struct FolioExtent : Gmem.IFolioRunVisitor
    {
        public ulong End;

        public void Run(ulong index, kvm_pfn_t pfn, int order, ulong folios)
            => End = Math.Max(End, pfn.Value + (folios << order));
    }

    private readonly struct FolioOwner(Vm vm, ulong[] owned, int fd) : Gmem.IFolioRunVisitor
    {
        public void Run(ulong index, kvm_pfn_t pfn, int order, ulong folios)
        {
            // A 4K folio is one allocator block and one page: a run of them is checked as a range.
            if (order == 0 && vm.TryOwnRun(owned, pfn.Value, folios))
            {
                return;
            }

            for (ulong f = 0; f < folios; f++)
            {
                // A folio is one allocator block: one ownership check covers it, every page gets its bit.
                ulong head = pfn.Value + (f << order), headIndex = index + (f << order);
                vm.Own(owned, head, fd, headIndex);
                for (ulong i = 1; i < 1UL << order; i++)
                {
                    Claim(owned, head + i, fd, headIndex + i);
                }
            }
        }
    }

    private readonly struct LeafChecker(Vm vm) : INptRunVisitor
    {
        public void Run(gfn_t gfn, NptLeaf first, ulong leaves)
        {
            if (!first.IsPrivate)
            {
                return;
            }

            // 4K leaves over entries assigned to this guest at their gfns pass as a run; otherwise leaf by leaf.
            if (first.Level == PgLevel.Level4K && vm.Rmp!.IsGuestRun(first.Pfn, leaves, vm.Config.Asid, gfn))
            {
                return;
            }

            ulong size = 1UL << ((int)(first.Level - 1) * 9);
            for (ulong i = 0; i < leaves; i++)
            {
                vm.CheckPrivateLeaf(gfn + (i * size), first with { Pfn = first.Pfn + (i * size) }, huge: true);
            }
        }
    }
}
