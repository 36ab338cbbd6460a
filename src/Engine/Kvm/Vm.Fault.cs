using FastRmp.Interop;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Kvm;

/// <summary>What a fault ended in.</summary>
public enum FaultResult
{
    /// <summary>RET_PF_FIXED: a leaf was installed.</summary>
    Fixed,

    /// <summary>RET_PF_RETRY.</summary>
    Retry,

    /// <summary>RET_PF_EMULATE: no slot (MMIO).</summary>
    Emulate,

    /// <summary>-EFAULT (or the gmem error) with KVM_EXIT_MEMORY_FAULT prepared (<see cref="Kvm.MemoryFaultExit"/>).</summary>
    MemoryFaultExit,

    /// <summary>RET_PF_FIXED from <c>fast_page_fault</c>: a write-protected leaf made writable in place (no get_pfn, no new leaf).</summary>
    FixedFast,

    /// <summary>RET_PF_SPURIOUS from <c>fast_page_fault</c>: the leaf already allows the access.</summary>
    Spurious,
}

/// <summary>
/// The KVM_EXIT_MEMORY_FAULT a fault prepared (<c>kvm_mmu_prepare_memory_fault_exit</c>: <c>kvm_run.memory_fault</c>)
/// and the errno KVM_RUN returns with it (EFAULT, or the guest_memfd error).
/// </summary>
/// <param name="Run">What userspace reads in <c>kvm_run.memory_fault</c>.</param>
/// <param name="Errno">What KVM_RUN returns.</param>
public readonly record struct MemoryFaultExit(kvm_run_memory_fault Run, Errno Errno);

public sealed unsafe partial class Vm
{
    /// <summary>
    /// Handles a TDP fault described by <paramref name="fault"/> as KVM 6.18 does, filling max_level, req_level,
    /// goal_level, slot and pfn in place.
    /// </summary>
    /// <remarks>
    /// Models <c>kvm_mmu_do_page_fault</c>' initialisation, <c>kvm_mmu_faultin_pfn</c> (the private/shared mismatch
    /// exit, no slot, the gmem path <c>kvm_mmu_faultin_pfn_gmem</c>: get_pfn, then max_level from
    /// <c>kvm_max_level_for_order</c>, then the RFC v4 07/10 fault-path hook <see cref="IKvmArch.PrepareInFaultPath"/>
    /// with a <see cref="KvmHookContext"/> for this call), <c>kvm_mmu_hugepage_adjust</c> (dirty tracking forces 4K;
    /// <c>kvm_mmu_max_mapping_level</c> walks lpage_info, with MIXED counting as disallowed, and for private faults
    /// applies the vendor's <c>gmem_max_mapping_level</c> ceiling) and the leaf install of <c>kvm_tdp_mmu_map</c>
    /// (arch/x86/kvm/mmu/mmu.c, 6.18; kernel-domain.md 1.4, 5.3, 5.4). Under an older <see cref="VmConfig.Kernel"/>
    /// (<see cref="KvmKernel.ClampAtFaultin"/>, 6.11-6.17) the ceiling is asked in the fault-in instead
    /// (<c>kvm_max_private_mapping_level</c>) and the lpage_info walk does not ask it again. The caller sets addr and
    /// error_code (with PFERR_PRIVATE_ACCESS for a private access). A fault on a present leaf with the write bit
    /// (PFERR_PRESENT and PFERR_WRITE) first tries <c>fast_page_fault</c>, as <c>kvm_tdp_page_fault</c> does
    /// (<see cref="TryFastPageFault"/>: <see cref="FaultResult.FixedFast"/> or <see cref="FaultResult.Spurious"/>, no
    /// get_pfn, not counted as a private or shared fault).
    /// </remarks>
    public FaultResult HandleFault(ref kvm_page_fault_v6_13 fault) => HandleFault(ref fault, out _);

    /// <summary>
    /// <see cref="HandleFault(ref kvm_page_fault_v6_13)"/>, returning the memory-fault exit it prepared in
    /// <paramref name="exit"/> (default unless the result is <see cref="FaultResult.MemoryFaultExit"/>).
    /// </summary>
    public FaultResult HandleFault(ref kvm_page_fault_v6_13 fault, out MemoryFaultExit exit)
    {
        ThrowIfDisposed();
        exit = default;
        fault.gfn = fault.addr.Gfn;
        fault.is_private = (fault.error_code & (ulong)PageFaultErrorCode.PrivateAccess) != 0;
        fault.write = (fault.error_code & (ulong)PageFaultErrorCode.Write) != 0;
        fault.exec = (fault.error_code & (ulong)PageFaultErrorCode.Fetch) != 0;
        fault.present = (fault.error_code & (ulong)PageFaultErrorCode.Present) != 0;
        fault.is_tdp = true;
        fault.max_level = Mmu.KVM_MAX_HUGEPAGE_LEVEL;
        fault.req_level = (byte)PgLevel.Level4K;
        fault.goal_level = (byte)PgLevel.Level4K;
        fault.mmu_seq = MmuInvalidateSeq;
        bool isPrivate = fault.is_private;
        if (fault.present && fault.write && TryFastPageFault(ref fault, out var fast))
        {
            return fast;
        }

        CountFault(isPrivate, 1);

        int slotIndex = Memslots.Find(0, fault.gfn);
        fault.slot = slotIndex >= 0 ? (ulong)Memslots.Pointer(slotIndex) : 0;
        if (slotIndex >= 0 && isPrivate && PrefetchInFault)
        {
            // Not KVM: the model's own memory-level parallelism. The page-cache entry and the NPT leaf are read only
            // further down, but both addresses follow from the gfn now; on a random fault both are cache misses,
            // and started here they overlap each other and the attribute lookup instead of coming one after another.
            Gmem.ByFileId(Memslots[slotIndex].gmem.file)?.Prefetch(ref Memslots[slotIndex], fault.gfn);
            Npt.Prefetch(fault.gfn);
        }

        if (isPrivate != Attributes.IsPrivate(fault.gfn))
        {
            return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, Errno.EFAULT);
        }

        if (slotIndex < 0)
        {
            if (isPrivate)
            {
                return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, Errno.EFAULT);
            }

            Counters.Mmio++;
            return FaultResult.Emulate;
        }

        ref var slot = ref Memslots[slotIndex];
        if ((slot.flags & (uint)MemslotFlags.Invalid) != 0)
        {
            Counters.Retries++;
            return FaultResult.Retry;
        }

        kvm_pfn_t pfn;
        if (isPrivate)
        {
            var file = Gmem.ByFileId(slot.gmem.file);
            if (file is null)
            {
                return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, Errno.EFAULT);
            }

            var error = file.GetPfn(slotIndex, ref slot, fault.gfn, out pfn, out int maxOrder);
            if (error != Errno.Ok)
            {
                return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, error);
            }

            fault.max_level = (byte)LevelForOrder(maxOrder);
            fault.pfn = pfn;
            if (Config.Kernel.ClampAtFaultin && fault.max_level > (byte)PgLevel.Level4K && Arch is not null)
            {
                // kvm_max_private_mapping_level (6.11-6.17): the vendor's ceiling, asked whenever the order allows a
                // hugepage, before lpage_info is consulted; PG_LEVEL_NONE (0) is no ceiling.
                var ceiling = Arch.MaxMappingLevel(pfn, isPrivate: true);
                if (ceiling != PgLevel.None && (byte)ceiling < fault.max_level)
                {
                    fault.max_level = (byte)ceiling;
                }
            }

            if (Arch is not null)
            {
                var kvm = HookContext();
                int rc = Arch.PrepareInFaultPath(ref kvm, ref fault);
                if (rc != 0)
                {
                    return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, (Errno)(-rc));
                }
            }
        }
        else if ((slot.flags & (uint)MemslotFlags.GmemOnly) != 0)
        {
            // kvm_mmu_faultin_pfn: a GMEM_ONLY slot serves shared faults from guest_memfd too (6.18 with MMAP; every
            // guest_memfd slot with in-place conversion, kvm-x86 2026). get_pfn calls no hook for a shared index; the
            // page is mapped at 4K (guest_memfd reports max_order 0).
            var file = Gmem.ByFileId(slot.gmem.file);
            pfn = default;
            var error = file is null ? Errno.EFAULT : file.GetPfn(slotIndex, ref slot, fault.gfn, out pfn, out _);
            if (error != Errno.Ok)
            {
                return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, error);
            }

            Counters.SharedFromGmem++;
            fault.max_level = (byte)PgLevel.Level4K;
            fault.pfn = pfn;
        }
        else
        {
            if (!TrySharedPfn(fault.gfn, out pfn))
            {
                return PrepareMemoryFaultExit(fault.gfn, isPrivate, out exit, Errno.EFAULT);
            }

            // The VMM's shared memory is mapped with 4 KiB host pages, unless a huge page backs the block.
            fault.max_level = (byte)(SharedIsHuge(fault.gfn) ? PgLevel.Level2M : PgLevel.Level4K);
            fault.pfn = pfn;
        }

        fault.map_writable = (slot.flags & (uint)MemslotFlags.ReadOnly) == 0;
        HugepageAdjust(ref fault, slotIndex, ref slot);
        var goal = (PgLevel)fault.goal_level;
        if (fault.mmu_seq != MmuInvalidateSeq)
        {
            Counters.Retries++;
            return FaultResult.Retry;
        }

        Counters.Zapped += Npt.Map(fault.gfn, fault.pfn, goal, isPrivate);
        if (isPrivate && Arch is { HasExternalPageTables: true } external)
        {
            // The mirror root's leaf is set; now the vendor's own tables (TDX: TDH.MEM.PAGE.AUG or, while the TD is
            // built, the pre-map count before TDH.MEM.PAGE.ADD). A failure undoes the mirror leaf and retries.
            var kvm = HookContext();
            var head = new gfn_t(fault.gfn.Value & ~((1UL << (((int)goal - 1) * 9)) - 1));
            if (external.SetExternalLeaf(ref kvm, head, goal, fault.pfn) != 0)
            {
                Npt.Zap(head, head + (1UL << (((int)goal - 1) * 9)));
                Counters.Retries++;
                return FaultResult.Retry;
            }
        }

        CountMapped(goal, 1);
        DebugCheckLeaf(fault.gfn);
        return FaultResult.Fixed;
    }

    /// <summary>
    /// Models <c>fast_page_fault</c> for a write to a present leaf, with <c>page_fault_can_be_fast</c> before it
    /// (arch/x86/kvm/mmu/mmu.c, 6.10-6.18): not for a VM with private memory whose fault's privacy disagrees with the
    /// gfn's attribute (that goes to the slow path and its memory-fault exit); a leaf that already allows the write is
    /// RET_PF_SPURIOUS; an MMU-writable leaf (every leaf the model write-protects: only dirty logging does) gets its
    /// writable bit back and the fault is RET_PF_FIXED, counted in <see cref="VmCounters.WpFaults"/>, with no get_pfn
    /// and no new leaf; except a huge leaf in a slot with dirty logging on, which the fast path leaves to the slow
    /// path so that the write maps 4K (it could mark only the first gfn dirty). False: take the slow path.
    /// </summary>
    private bool TryFastPageFault(ref kvm_page_fault_v6_13 fault, out FaultResult result)
    {
        result = FaultResult.FixedFast;
        if ((Config.Type is KvmVmType.Snp or KvmVmType.SwProtected or KvmVmType.Tdx) && fault.is_private != Attributes.IsPrivate(fault.gfn))
        {
            return false;
        }

        var leaf = Npt.Lookup(fault.gfn);
        if (!leaf.IsPresent)
        {
            return false;
        }

        if (leaf.IsWritable)
        {
            result = FaultResult.Spurious;
            return true;
        }

        if (leaf.Level > PgLevel.Level4K)
        {
            int slotIndex = Memslots.Find(0, fault.gfn);
            if (slotIndex >= 0 && (Memslots[slotIndex].flags & (uint)MemslotFlags.LogDirtyPages) != 0)
            {
                return false;
            }
        }

        Npt.MakeWritable(fault.gfn);
        Counters.WpFaults++;
        return true;
    }

    /// <summary>Counts <paramref name="n"/> faults of one kind: the per-page path and the fresh-run path both count here.</summary>
    private void CountFault(bool isPrivate, long n)
    {
        if (isPrivate)
        {
            Counters.FaultsPrivate += n;
        }
        else
        {
            Counters.FaultsShared += n;
        }
    }

    /// <summary>Counts <paramref name="n"/> leaves installed at <paramref name="level"/> (both paths count here).</summary>
    private void CountMapped(PgLevel level, long n) => Counters.Mapped.Add(level, n);

    /// <summary>Models <c>kvm_max_level_for_order</c>: order &gt;= 18 -&gt; 1G, &gt;= 9 -&gt; 2M, else 4K.</summary>
    public static PgLevel LevelForOrder(int order)
        => order >= 18 ? PgLevel.Level1G : order >= 9 ? PgLevel.Level2M : PgLevel.Level4K;

    /// <summary>Models <c>kvm_mmu_hugepage_adjust</c> (no NX-hugepage workaround in the model).</summary>
    private void HugepageAdjust(ref kvm_page_fault_v6_13 fault, int slotIndex, ref kvm_memory_slot slot)
    {
        if (fault.max_level == (byte)PgLevel.Level4K || (slot.flags & (uint)MemslotFlags.LogDirtyPages) != 0)
        {
            return;
        }

        var req = MaxMappingLevel(ref fault, slotIndex);
        fault.req_level = (byte)req;
        if (req == PgLevel.Level4K)
        {
            return;
        }

        fault.goal_level = (byte)req;
        ulong mask = (1UL << (((int)req - 1) * 9)) - 1;
        fault.pfn = new kvm_pfn_t(fault.pfn.Value & ~mask);
    }

    /// <summary>
    /// Models <c>kvm_mmu_max_mapping_level</c> (6.18): the highest level up to max_level whose lpage_info allows a
    /// hugepage (MIXED counts as disallowed), capped for private faults by the vendor's
    /// <c>gmem_max_mapping_level</c> ceiling (asked only when the level is still above 4K). 6.11-6.17
    /// (<c>__kvm_mmu_max_mapping_level</c>, then <c>kvm_mmu_max_mapping_level</c>): the walk alone for private faults,
    /// the ceiling having been applied at fault-in.
    /// </summary>
    private PgLevel MaxMappingLevel(ref kvm_page_fault_v6_13 fault, int slotIndex)
    {
        var level = (PgLevel)Math.Min(fault.max_level, (byte)PgLevel.Level1G);
        for (; level > PgLevel.Level4K; level--)
        {
            if (Memslots.LpageInfo(slotIndex, level, fault.gfn).disallow_lpage == 0)
            {
                break;
            }
        }

        if (level == PgLevel.Level4K || !fault.is_private || Arch is null || Config.Kernel.ClampAtFaultin)
        {
            return level;
        }

        var ceiling = Arch.MaxMappingLevel(fault.pfn, isPrivate: true);
        return ceiling != PgLevel.None && ceiling < level ? ceiling : level;
    }

    /// <summary>
    /// Models npf_interception's second half for an #NPF with the RMP bit (svm.c, 6.18; kernel-domain.md 5.5): the
    /// vendor's <c>sev_handle_rmp_fault</c>, given what of the VM it may touch. Counts the fault (the "extra faults"
    /// of the debate); the guest then retries its access.
    /// </summary>
    /// <exception cref="InvalidOperationException">The VM has no vendor hooks (not SNP).</exception>
    public RmpFaultOutcome HandleRmpFault(gpa_t gpa, PageFaultErrorCode errorCode)
    {
        ThrowIfDisposed();
        if (Arch is null)
        {
            throw new InvalidOperationException("An #NPF(RMP) needs an SNP VM.");
        }

        Counters.RmpNpf++;
        var kvm = HookContext();
        return Arch.HandleRmpFault(ref kvm, gpa, errorCode);
    }

    /// <summary>
    /// Zaps [<paramref name="start"/>, <paramref name="end"/>) of the NPT (<c>kvm_zap_gfn_range</c>,
    /// <c>kvm_tdp_mmu_unmap_gfn_range</c>; arch/x86/kvm/mmu, 6.18), first telling vendor-owned private tables
    /// (<see cref="IKvmArch.HasExternalPageTables"/>): a huge private leaf the range cuts is split at the boundary when
    /// the vendor says so, then the private leaves in the range are removed from the vendor's tables. Returns the
    /// SPTEs zapped.
    /// </summary>
    private long ZapRange(gfn_t start, gfn_t end, ZapFilter filter = ZapFilter.All)
    {
        if (filter != ZapFilter.Shared && end > start && Arch is { HasExternalPageTables: true } external)
        {
            var kvm = HookContext();
            if (external.SplitsAtZapBoundaries)
            {
                SplitPrivateBlock(external, ref kvm, start);
                SplitPrivateBlock(external, ref kvm, end);
            }

            external.RemoveExternalLeaves(ref kvm, start, end);
        }

        return Npt.Zap(start, end, filter);
    }

    private void SplitPrivateBlock(IKvmArch external, ref KvmHookContext kvm, gfn_t boundary)
    {
        if ((boundary.Value & 511) != 0)
        {
            SplitPrivate2M(external, ref kvm, boundary);
        }
    }

    /// <summary>
    /// Splits the private 2 MiB leaf that maps <paramref name="gfn"/>, if there is one: the vendor demotes its own leaf
    /// first (<see cref="IKvmArch.SplitExternalLeaf"/>), then the NPT's becomes 512 4K leaves. True when one was split.
    /// </summary>
    private bool SplitPrivate2M(IKvmArch external, ref KvmHookContext kvm, gfn_t gfn)
    {
        var block = new gfn_t(gfn.Value & ~511UL);
        var leaf = Npt.Lookup(block);
        if (!leaf.IsPresent || !leaf.IsPrivate || leaf.Level != PgLevel.Level2M)
        {
            return false;
        }

        external.SplitExternalLeaf(ref kvm, block);
        Npt.SplitHugeLeaves(block, block + 512);
        return true;
    }

    /// <summary>What a vendor hook may read and change of this VM, for one call.</summary>
    private KvmHookContext HookContext() => new(Memslots, Attributes, Gmem, Npt, ref _counters);

    private FaultResult PrepareMemoryFaultExit(gfn_t gfn, bool isPrivate, out MemoryFaultExit exit, Errno error)
    {
        // kvm_mmu_prepare_memory_fault_exit: gpa = gfn << 12, size = 4096, PRIVATE flag from the fault.
        exit = new MemoryFaultExit(
            new kvm_run_memory_fault
            {
                gpa = gfn.Gpa.Value,
                size = PageSize.Size4K,
                flags = isPrivate ? KvmUapi.KVM_MEMORY_EXIT_FLAG_PRIVATE : 0,
            },
            error);
        Counters.MemoryFaultExits++;
        return FaultResult.MemoryFaultExit;
    }
}
