using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// Keeps <see cref="Mmu.KVM_LPAGE_MIXED_FLAG"/> in every slot's lpage_info equal to "the memory attributes inside
/// this hugepage are not uniform", so that a hugepage mapping never spans private and shared gfns.
/// Stateless; the memslots and attributes it updates are not thread-safe.
/// </summary>
/// <remarks>
/// Models <c>hugepage_has_attrs</c>, <c>kvm_arch_post_set_memory_attributes</c> and
/// <c>kvm_mmu_init_memslot_memory_attributes</c> (arch/x86/kvm/mmu/mmu.c, 6.8-6.18; kernel-domain.md 5.4): at 2M a
/// hugepage is uniform when all 512 gfns have the same attributes; at 1G when none of its 2M hugepages is mixed and
/// their first gfns agree. Hugepages that stick out of the slot are skipped: the slot-edge rule already disallows
/// them.
/// </remarks>
public static class HugepageAttributes
{
    /// <summary>Recomputes MIXED for every hugepage of every slot of address space 0 that intersects [start, end).</summary>
    public static void Recompute(Memslots slots, MemoryAttributeMap attributes, gfn_t start, gfn_t end)
    {
        foreach (int index in slots.InAddressSpace(0))
        {
            ref var slot = ref slots[index];
            ulong first = Math.Max(start.Value, slot.base_gfn.Value);
            ulong last = Math.Min(end.Value, slot.base_gfn.Value + slot.npages);
            if (first < last)
            {
                RecomputeSlot(slots, attributes, index, first, last);
            }
        }
    }

    /// <summary>Computes MIXED for all hugepages of one slot (slot creation).</summary>
    public static void InitializeSlot(Memslots slots, MemoryAttributeMap attributes, int index)
    {
        ref var slot = ref slots[index];
        RecomputeSlot(slots, attributes, index, slot.base_gfn.Value, slot.base_gfn.Value + slot.npages);
    }

    private static void RecomputeSlot(Memslots slots, MemoryAttributeMap attributes, int index, ulong first, ulong last)
    {
        ref var slot = ref slots[index];
        ulong slotEnd = slot.base_gfn.Value + slot.npages;
        for (var level = PgLevel.Level2M; level <= PgLevel.Level1G; level++)
        {
            int shift = Memslots.LevelShift(level);
            ulong size = 1UL << shift;
            for (ulong huge = first & ~(size - 1); huge < last; huge += size)
            {
                if (huge < slot.base_gfn.Value || huge + size > slotEnd)
                {
                    continue;
                }

                ref var info = ref slots.LpageInfo(index, level, new gfn_t(huge));
                bool mixed = !IsUniform(slots, attributes, index, level, huge);
                info.disallow_lpage = mixed
                    ? (int)((uint)info.disallow_lpage | Mmu.KVM_LPAGE_MIXED_FLAG)
                    : (int)((uint)info.disallow_lpage & ~Mmu.KVM_LPAGE_MIXED_FLAG);
            }
        }
    }

    private static bool IsUniform(Memslots slots, MemoryAttributeMap attributes, int index, PgLevel level, ulong huge)
    {
        bool firstPrivate = attributes.IsPrivate(new gfn_t(huge));
        if (level == PgLevel.Level2M)
        {
            return attributes.RangeIs(new gfn_t(huge), 512, firstPrivate);
        }

        for (ulong sub = huge; sub < huge + (1UL << 18); sub += 512)
        {
            if (slots.LpageInfo(index, PgLevel.Level2M, new gfn_t(sub)).IsMixed || attributes.IsPrivate(new gfn_t(sub)) != firstPrivate)
            {
                return false;
            }
        }

        return true;
    }
}
