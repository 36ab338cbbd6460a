using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Tdx;

/// <summary>
/// KVM's TDX hooks (arch/x86/kvm/vmx/tdx.c, 6.16; <see cref="TdxDesign.HugePages"/> adds the huge-page series): the
/// private mapping level, the Secure EPT kept in step with KVM's mirror root through SEAMCALLs, and the TD's build.
/// TDX has no guest_memfd prepare or invalidate hook and no RMP: what the 2023 debate called "tie the HKID to the
/// allocation" is here the S-EPT and PAMT work each mapping and unmapping costs.
/// </summary>
/// <remarks>
/// Mapping (<c>tdx_sept_link_private_spt</c>, <c>tdx_sept_set_private_spte</c>): TDH.MEM.SEPT.ADD for every missing
/// table on the way (a 4 KiB page from the host, PAMT-backed with Dynamic PAMT), then TDH.MEM.PAGE.AUG once the TD is
/// runnable, or the pre-map count before TDH.MEM.PAGE.ADD while it is built. Unmapping
/// (<c>tdx_sept_remove_private_spte</c>): per leaf TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK with a kick of every vCPU,
/// TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD, then the page is cleared and (Dynamic PAMT) its PAMT reference
/// dropped. Splitting (series RFC v2, <c>tdx_sept_split_private_spt</c>): BLOCK, TRACK, PAMT for the new table and the
/// 2 MiB page, DEMOTE. Secure EPT tables are freed only when the TD is destroyed, as in KVM. Not thread-safe.
/// </remarks>
public sealed class TdxArch : IKvmArch
{
    private readonly IFolioAllocator _allocator;
    private readonly List<(gfn_t Gfn, PgLevel Level)> _leaves = [];
    private readonly Action<gfn_t, PgLevel> _collectLeaf;

    /// <summary>The hooks of a TD of <paramref name="module"/>, running <paramref name="design"/>, taking table pages from <paramref name="allocator"/>.</summary>
    public TdxArch(TdxModule module, TdxDesign design, IFolioAllocator allocator)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(allocator);
        Module = module;
        Design = design;
        _allocator = allocator;
        _collectLeaf = (gfn, level) => _leaves.Add((gfn, level)); // one delegate for every zap
    }

    /// <summary>The TD's side of the TDX module.</summary>
    public TdxModule Module { get; }

    /// <summary>The design.</summary>
    public TdxDesign Design { get; }

    /// <summary>Pages mapped in the mirror root while the TD is built and not yet added (<c>nr_premapped</c>).</summary>
    public long Premapped { get; private set; }

    /// <inheritdoc />
    public GmemPrepareMode PrepareMode => GmemPrepareMode.Never;

    /// <inheritdoc />
    public bool HasExternalPageTables => true;

    /// <inheritdoc />
    public bool SplitsAtZapBoundaries => Design == TdxDesign.HugePages;

    /// <inheritdoc />
    /// <remarks>TDX has no <c>gmem_prepare</c>: nothing happens.</remarks>
    public int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order) => 0;

    /// <inheritdoc />
    /// <remarks>TDX has no <c>gmem_invalidate</c>: the pages left the Secure EPT when KVM zapped them.</remarks>
    public void Invalidate(kvm_pfn_t start, kvm_pfn_t end)
    {
    }

    /// <summary>
    /// <c>tdx_gmem_private_max_mapping_level</c>: 4K for private memory as merged, 2M with the huge-page series; no
    /// ceiling for shared memory.
    /// </summary>
    public PgLevel MaxMappingLevel(kvm_pfn_t pfn, bool isPrivate)
        => !isPrivate ? PgLevel.None : Design == TdxDesign.HugePages ? PgLevel.Level2M : PgLevel.Level4K;

    /// <inheritdoc />
    /// <remarks>TDX has no RMP: an #NPF(RMP) cannot happen.</remarks>
    public RmpFaultOutcome HandleRmpFault(ref KvmHookContext kvm, gpa_t gpa, PageFaultErrorCode errorCode) => RmpFaultOutcome.Warned;

    /// <summary>
    /// The huge-page series' limits on a private fault: 4K while the TD is built (TDH.MEM.PAGE.ADD takes 4 KiB pages),
    /// and 4K where a 4 KiB table already sits under the 2 MiB entry (no promotion, RFC v2 patch 7).
    /// </summary>
    public int PrepareInFaultPath(ref KvmHookContext kvm, ref kvm_page_fault_v6_13 fault)
    {
        if (fault.max_level > (byte)PgLevel.Level4K && (!Module.Finalized || Module.HasPageTable(fault.gfn)))
        {
            fault.max_level = (byte)PgLevel.Level4K;
        }

        return 0;
    }

    /// <inheritdoc />
    public int SetExternalLeaf(ref KvmHookContext kvm, gfn_t gfn, PgLevel level, kvm_pfn_t pfn)
    {
        if (!LinkTables(gfn, level))
        {
            return -(int)Errno.ENOMEM;
        }

        if (!Module.Finalized)
        {
            // tdx_mem_page_record_premap_cnt: TDH.MEM.PAGE.ADD follows in KVM_TDX_INIT_MEM_REGION.
            Premapped++;
            return 0;
        }

        return Module.PageAug(gfn, level, pfn) == TdxStatus.Success ? 0 : -(int)Errno.EIO;
    }

    /// <inheritdoc />
    public void RemoveExternalLeaves(ref KvmHookContext kvm, gfn_t start, gfn_t end)
    {
        _leaves.Clear();
        Module.ForEachLeaf(start, end, _collectLeaf);
        foreach (var (gfn, level) in _leaves)
        {
            var pfn = kvm.Lookup(gfn).Pfn;
            Check(Module.RangeBlock(gfn, level), "TDH.MEM.RANGE.BLOCK", gfn);
            Track();
            Check(Module.PageRemove(gfn, level), "TDH.MEM.PAGE.REMOVE", gfn);
            Module.PageWbinvd();
            if (level == PgLevel.Level4K)
            {
                Module.Pamt.Put(pfn);
            }
        }
    }

    /// <inheritdoc />
    public void SplitExternalLeaf(ref KvmHookContext kvm, gfn_t block)
    {
        var leaf = Module.Lookup(block);
        if (!leaf.IsPresent || leaf.Level != PgLevel.Level2M)
        {
            return;
        }

        var pfn = kvm.Lookup(block).Pfn;
        if (!_allocator.TryAllocate(0, out var table))
        {
            throw new InvalidOperationException("The host has no page left for a Secure EPT table.");
        }

        Check(Module.RangeBlock(block, PgLevel.Level2M), "TDH.MEM.RANGE.BLOCK", block);
        Track();
        Module.Pamt.Get(pfn, 512); // the 2 MiB page's 4 KiB PAMT entries are needed once it is 512 pages
        Check(Module.PageDemote(block, table), "TDH.MEM.PAGE.DEMOTE", block);
    }

    /// <summary>
    /// KVM_TDX_INIT_MEM_REGION's per-page step after the mirror root mapped <paramref name="gfn"/>
    /// (<c>tdx_gmem_post_populate</c>): TDH.MEM.PAGE.ADD of the page, and with <paramref name="measure"/> TDH.MR.EXTEND
    /// over it. Returns 0 or a negative errno.
    /// </summary>
    public int AddInitialPage(gfn_t gfn, kvm_pfn_t pfn, bool measure)
    {
        if (Module.PageAdd(gfn, pfn) != TdxStatus.Success)
        {
            return -(int)Errno.EIO;
        }

        Premapped--;
        if (measure)
        {
            Module.MeasurePage();
        }

        return 0;
    }

    /// <summary>KVM_TDX_FINALIZE_VM: refused (EINVAL) while pages are pre-mapped but not added; then TDH.MR.FINALIZE.</summary>
    public Errno FinalizeVm()
    {
        if (Premapped != 0)
        {
            return Errno.EINVAL;
        }

        Module.FinalizeBuild();
        return Errno.Ok;
    }

    /// <summary><c>tdx_track</c>: TDH.MEM.TRACK and a kick of every vCPU, only once the TD runs.</summary>
    private void Track()
    {
        if (Module.Finalized)
        {
            Module.Track();
        }
    }

    /// <summary><c>tdx_sept_link_private_spt</c> for every table missing down to <paramref name="level"/>'s entry.</summary>
    private bool LinkTables(gfn_t gfn, PgLevel level)
    {
        for (int tdxLevel = 3; tdxLevel >= (level == PgLevel.Level4K ? 1 : 2); tdxLevel--)
        {
            bool present = tdxLevel switch
            {
                3 => Module.CanLinkBelow(gfn, 3),
                2 => Module.CanLinkBelow(gfn, 2),
                _ => Module.HasPageTable(gfn),
            };
            if (present)
            {
                continue;
            }

            if (!_allocator.TryAllocate(0, out var page))
            {
                return false;
            }

            Check(Module.SeptAdd(gfn, tdxLevel, page), "TDH.MEM.SEPT.ADD", gfn);
        }

        return true;
    }

    private static void Check(TdxStatus status, string seamcall, gfn_t gfn)
    {
        if (status.IsError())
        {
            // KVM_BUG_ON in tdx.c: a failure here is a bug in KVM's bookkeeping (or the model's), never the guest's doing.
            throw new InvalidOperationException($"{seamcall} of gfn {gfn} failed: {status}.");
        }
    }
}
