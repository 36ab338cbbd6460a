using FastRmp.Interop;

namespace FastRmp.Engine.Kvm;

public sealed unsafe partial class NptMap
{
    /// <summary>
    /// Splits every huge leaf that intersects [<paramref name="start"/>, <paramref name="end"/>) into 4K leaves that map
    /// the same frames with the same attributes (a 1G leaf into 512 2M leaves, then each of those in the range into 512
    /// 4K leaves). Returns the number of splits (one per huge leaf split), also counted in <see cref="Splits"/>.
    /// </summary>
    /// <remarks>
    /// Models <c>kvm_mmu_slot_try_split_huge_pages(kvm, slot, PG_LEVEL_4K)</c> → <c>kvm_tdp_mmu_try_split_huge_pages</c>
    /// (arch/x86/kvm/mmu/mmu.c and tdp_mmu.c, 6.18): the walk visits the range at every level above the target and
    /// replaces each huge SPTE by a child table of SPTEs that inherit its permissions (<c>tdp_mmu_split_huge_page</c>,
    /// traced as <c>kvm_mmu_split_huge_page</c>). The kernel's split can fail for lack of memory and leave the leaf
    /// huge; the model's never fails. A 2M leaf split into 4K leaves is kept as a linear table (8 bytes).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long SplitHugeLeaves(gfn_t start, gfn_t end)
    {
        ThrowIfDisposed();
        long before = Splits;
        ulong last = Math.Min(end.Value, _topEntries << 18);
        for (ulong g = start.Value; g < last;)
        {
            ulong next1G = ((g >> 18) + 1) << 18;
            ulong* slot1 = _top + (g >> 18);
            if (*slot1 != 0)
            {
                var table2 = Child(slot1, 3); // splits a 1G leaf; an existing table is returned as it is
                for (ulong g2 = g; g2 < Math.Min(last, next1G); g2 = ((g2 >> 9) + 1) << 9)
                {
                    ulong* slot2 = table2 + ((g2 >> 9) & 511);
                    if ((*slot2 & Present) != 0)
                    {
                        Child(slot2, 2);
                        Pack(slot2);
                    }
                }
            }

            g = next1G;
        }

        return Splits - before;
    }

    /// <summary>
    /// Clears the writable bit of every leaf that intersects [<paramref name="start"/>, <paramref name="end"/>), at
    /// every level. Returns the number of leaves that were writable.
    /// </summary>
    /// <remarks>
    /// Models <c>kvm_mmu_slot_remove_write_access(kvm, slot, PG_LEVEL_4K)</c> → <c>kvm_tdp_mmu_wrprot_slot</c>
    /// (arch/x86/kvm/mmu/mmu.c and tdp_mmu.c, 6.18): every leaf SPTE at or above 4K loses PT_WRITABLE_MASK and keeps
    /// the software MMU-writable bit, so that a later write can be fixed by <c>fast_page_fault</c>
    /// (<see cref="MakeWritable"/>). Nothing is zapped; the leaves and their counts are unchanged.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long WriteProtect(gfn_t start, gfn_t end)
    {
        ThrowIfDisposed();
        long changed = 0;
        ulong last = Math.Min(end.Value, _topEntries << 18);
        for (ulong g = start.Value; g < last;)
        {
            ulong next1G = ((g >> 18) + 1) << 18;
            ulong* slot1 = _top + (g >> 18);
            ulong e1 = *slot1;
            if ((e1 & Present) != 0)
            {
                changed += Protect(slot1);
            }
            else if (e1 != 0)
            {
                var table2 = (ulong*)e1;
                for (ulong g2 = g; g2 < Math.Min(last, next1G);)
                {
                    ulong next2M = ((g2 >> 9) + 1) << 9;
                    ulong stop = Math.Min(Math.Min(last, next1G), next2M);
                    changed += Protect2M(table2 + ((g2 >> 9) & 511), g2, stop);
                    g2 = next2M;
                }
            }

            g = next1G;
        }

        return changed;
    }

    /// <summary>
    /// Sets the writable bit of the leaf that maps <paramref name="gfn"/>; false when no leaf maps it or the leaf is
    /// already writable. Only that leaf changes, whatever its size.
    /// </summary>
    /// <remarks>
    /// Models the write half of <c>fast_page_fault</c> (arch/x86/kvm/mmu/mmu.c, 6.18): an MMU-writable SPTE gets
    /// PT_WRITABLE_MASK back by a cmpxchg outside mmu_lock (<c>fast_pf_fix_direct_spte</c>, which also marks the gfn
    /// dirty; the model keeps no dirty bitmap). Whether the fast path may fix the leaf at all is the caller's
    /// decision (<see cref="Vm.HandleFault(ref Interop.Kernel.kvm_page_fault_v6_13, out MemoryFaultExit)"/>).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool MakeWritable(gfn_t gfn)
    {
        ulong g = gfn.Value;
        if ((g >> 18) >= _topEntries)
        {
            ThrowIfDisposed();
            return false;
        }

        ulong* slot = _top + (g >> 18);
        if ((*slot & Present) == 0)
        {
            if (*slot == 0)
            {
                return false;
            }

            slot = (ulong*)*slot + ((g >> 9) & 511);
            if ((*slot & Present) == 0)
            {
                if (*slot == 0)
                {
                    return false;
                }

                // One leaf of a linear table changes: the table is no longer uniform.
                slot = ((*slot & LinearTable) != 0 ? Unpack(slot) : (ulong*)*slot) + (g & 511);
                if ((*slot & Present) == 0)
                {
                    return false;
                }
            }
        }

        if ((*slot & WriteProtected) == 0)
        {
            return false;
        }

        *slot &= ~WriteProtected;
        return true;
    }

    private static long Protect(ulong* leaf)
    {
        if ((*leaf & WriteProtected) != 0)
        {
            return 0;
        }

        *leaf |= WriteProtected;
        return 1;
    }

    // The leaves of one 2 MiB block in [first, end) (first and end inside the block).
    private long Protect2M(ulong* slot, ulong first, ulong end)
    {
        ulong e = *slot;
        if (e == 0)
        {
            return 0;
        }

        if ((e & Present) != 0)
        {
            return Protect(slot);
        }

        if ((e & LinearTable) != 0)
        {
            if (end - first == 512)
            {
                // The whole block: its 512 leaves share the linear entry's bits, write permission included.
                return Protect(slot) * 512;
            }

            e = (ulong)Unpack(slot);
        }

        var table = (ulong*)e;
        long changed = 0;
        for (ulong k = first & 511; k < ((end - 1) & 511) + 1; k++)
        {
            if ((table[k] & Present) != 0)
            {
                changed += Protect(table + k);
            }
        }

        return changed;
    }
}
