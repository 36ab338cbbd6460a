using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Policies;

/// <summary>
/// The SEV-SNP vendor hooks as merged (arch/x86/kvm/svm/sev.c, ~6.14, with the 6.18 renames; kernel-domain.md 4.6):
/// <c>sev_gmem_prepare</c>, <c>sev_gmem_invalidate</c>, <c>sev_gmem_max_mapping_level</c> and
/// <c>sev_handle_rmp_fault</c>, over the host's <see cref="RmpTable"/>. The policies of the 2023 debate derive from
/// it and change when pages are converted and what clamps the mapping level.
/// Not thread-safe: a policy belongs to one VM and is called from its (single-threaded) fault path.
/// </summary>
public abstract class SnpPolicy(RmpTable rmp, uint asid) : IKvmArch
{
    /// <summary>The policy's name, as the command line and reports use it.</summary>
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract GmemPrepareMode PrepareMode { get; }

    /// <summary>The host's RMP.</summary>
    protected RmpTable Rmp => rmp;

    /// <summary>The guest's ASID.</summary>
    protected uint Asid => asid;

    private const int MaxRetries = 16;

    private PolicyCounters _counters;

    /// <summary>What the hooks did that the RMP's own counters do not show (their RMP lookups).</summary>
    public ref PolicyCounters Counters => ref _counters;

    /// <summary>
    /// <c>sev_gmem_prepare(kvm, pfn, gfn, max_order)</c> as merged (arch/x86/kvm/svm/sev.c, torvalds 6.11 onwards;
    /// kernel-domain.md 4.6): nothing if the RMP entry of <paramref name="pfn"/> is already assigned (the hook is
    /// idempotent); otherwise one 2M RMPUPDATE when the order is 9 or more and all 512 entries of the 2 MiB block
    /// around the pfn are unassigned (pfn and gfn rounded down to 2 MiB), else one 4K RMPUPDATE. A failed RMPUPDATE
    /// is -EINVAL.
    /// </summary>
    /// <remarks>
    /// The merged hook converts one 4K or 2M page whatever the order: it assumes it is never called for more than
    /// 2 MiB (Roth, "[PATCH 4/5] KVM: SEV: Improve handling of large ranges in gmem prepare callback", 2024-12-12:
    /// "the current code assumes it will never be called for a range larger than 2MB"). For a 1 GiB folio, which
    /// guest_memfd prepares once with the folio's head pfn and gfn, that is one 2M entry at the head: the rest of the
    /// folio stays hypervisor-owned, the clamp says 4K there, and a private access to it takes #NPF(RMP) that
    /// <see cref="HandleRmpFault"/> cannot fix: the guest spins (upstream-2024-2026.md, "What is still not merged").
    /// FastRmp runs it as merged; the rework is <see cref="RangePreparePolicy"/>.
    /// </remarks>
    public virtual int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order) => PrepareOne(gfn, pfn, order);

    private int PrepareOne(gfn_t gfn, kvm_pfn_t pfn, int order)
    {
        if (Lookup(pfn).Assigned)
        {
            return 0;
        }

        bool huge = order >= 9 && AllUnassigned(new kvm_pfn_t(pfn.Value & ~511UL));
        var target = huge ? new kvm_pfn_t(pfn.Value & ~511UL) : pfn;
        var targetGfn = huge ? new gfn_t(gfn.Value & ~511UL) : gfn;
        var state = new rmp_state { assigned = 1, pagesize = huge ? (byte)1 : (byte)0, asid = asid, gpa = targetGfn.Gpa.Value };
        return UpdateWithRetry(target, state) == RmpUpdateResult.Success ? 0 : -(int)Errno.EINVAL;
    }

    /// <summary>
    /// <c>sev_gmem_invalidate</c>: every assigned pfn in [start, end) goes back to the hypervisor, at 2M where a
    /// whole 2M entry is freed, else at 4K, PSMASHing first when a free covers only part of a 2M entry.
    /// </summary>
    public virtual void Invalidate(kvm_pfn_t start, kvm_pfn_t end)
    {
        for (ulong p = start.Value; p < end.Value;)
        {
            var entry = Lookup(new kvm_pfn_t(p));
            if (!entry.Assigned)
            {
                p++;
                continue;
            }

            bool is2M = entry.Level == PgLevel.Level2M;
            bool use2M = (p & 511) == 0 && p + 512 <= end.Value && is2M;
            if (!use2M && is2M)
            {
                rmp.Psmash(new kvm_pfn_t(p & ~511UL));
            }

            var state = new rmp_state { pagesize = use2M ? (byte)1 : (byte)0 };
            UpdateWithRetry(new kvm_pfn_t(p), state);
            p += use2M ? 512UL : 1;
        }
    }

    /// <summary><c>sev_gmem_max_mapping_level</c>: 4K for an unassigned page, else the RMP entry's level.</summary>
    public virtual PgLevel MaxMappingLevel(kvm_pfn_t pfn, bool isPrivate)
    {
        var entry = Lookup(pfn);
        return entry.Assigned ? entry.Level : PgLevel.Level4K;
    }

    /// <summary>
    /// <c>sev_handle_rmp_fault</c>: for a private gfn backed by guest_memfd whose RMP entry is 2M, PSMASH it and zap
    /// the 512 gfns so they re-fault at 4K; a 4K entry means the fault was spurious.
    /// </summary>
    public virtual RmpFaultOutcome HandleRmpFault(ref KvmHookContext kvm, gpa_t gpa, PageFaultErrorCode errorCode)
    {
        var gfn = gpa.Gfn;
        int slotIndex = kvm.Memslots.Find(0, gfn);
        if (!kvm.Attributes.IsPrivate(gfn) || slotIndex < 0)
        {
            return RmpFaultOutcome.Warned;
        }

        ref var slot = ref kvm.Memslots[slotIndex];
        var file = kvm.Gmem.ByFileId(slot.gmem.file);
        if (file is null || file.GetPfn(slotIndex, ref slot, gfn, out var pfn, out _) != Errno.Ok)
        {
            return RmpFaultOutcome.Warned;
        }

        var entry = Lookup(pfn);
        if (!entry.Assigned)
        {
            return RmpFaultOutcome.Warned;
        }

        if (entry.Level == PgLevel.Level4K)
        {
            return RmpFaultOutcome.Spurious;
        }

        for (int i = 0; i < MaxRetries && rmp.Psmash(new kvm_pfn_t(pfn.Value & ~511UL)) == PsmashResult.FailInUse; i++)
        {
        }

        kvm.ZapHugepage(gfn);
        return RmpFaultOutcome.Smashed;
    }

    /// <inheritdoc />
    public virtual void FolioAllocated(GuestMemfd file, ulong index, kvm_pfn_t pfn, int order)
    {
    }

    /// <inheritdoc />
    public virtual int PrepareInFaultPath(ref KvmHookContext kvm, ref kvm_page_fault_v6_13 fault) => 0;

    /// <summary>False unless a policy knows its work for a fresh 4 KiB folio (see <see cref="IKvmArch.PreparesFreshRuns4K"/>).</summary>
    public virtual bool PreparesFreshRuns4K => false;

    /// <inheritdoc />
    public virtual void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => throw new NotSupportedException($"{Name} prepares fresh folios one by one.");

    /// <summary>
    /// A run of fresh 4 KiB folios made private as the hooks do it one page at a time: with
    /// <paramref name="lookUp"/>, the lookup that finds each page unassigned (<c>sev_gmem_prepare</c>, or the RFC's
    /// fault-path hook), then each page's 4K RMPUPDATE to private at its gfn.
    /// </summary>
    /// <exception cref="InvalidOperationException">A page was not fresh: the caller broke the contract.</exception>
    protected void ConvertFreshRun4K(gfn_t gfn, ReadOnlySpan<PfnRange> pages, bool lookUp)
    {
        ulong count = 0;
        foreach (var range in pages)
        {
            count += range.Count;
        }

        if (lookUp)
        {
            if (!rmp.LookupRunUnassigned(pages))
            {
                throw new InvalidOperationException($"{Name}: a folio of the run at gfn {gfn} is already assigned in the RMP.");
            }

            _counters.RmpLookups += (long)count;
        }

        if (rmp.RmpUpdateRun4K(pages, asid, gfn) != count)
        {
            throw new InvalidOperationException($"{Name}: an RMPUPDATE of the run at gfn {gfn} failed.");
        }
    }

    /// <summary>An RMP lookup made by KVM (counted).</summary>
    protected RmpLookup Lookup(kvm_pfn_t pfn)
    {
        _counters.RmpLookups++;
        return rmp.Lookup(pfn);
    }

    /// <summary>True when none of the 512 entries of the 2 MiB block is assigned (sev_gmem_prepare's check).</summary>
    protected bool AllUnassigned(kvm_pfn_t head)
    {
        // The kernel looks up each of the 512 entries until it meets an assigned one. When none is, the store's
        // region test gives the same answer at once; the 512 lookups are still charged.
        if (head.Value + 512 <= rmp.Pages && !rmp.Store.AnyAssigned(head.Value >> 9))
        {
            _counters.RmpLookups += 512;

            return true;
        }

        for (ulong i = 0; i < 512; i++)
        {
            if (Lookup(head + i).Assigned)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>RMPUPDATE as the kernel's rmpupdate() issues it: FAIL_OVERLAP is retried as transient (the model bounds the retries).</summary>
    protected RmpUpdateResult UpdateWithRetry(kvm_pfn_t pfn, rmp_state state)
    {
        RmpUpdateResult result = default;
        for (int i = 0; i < MaxRetries; i++)
        {
            result = rmp.RmpUpdate(pfn, state);
            if (result != RmpUpdateResult.FailOverlap)
            {
                break;
            }
        }

        return result;
    }
}

/// <summary>What a policy's hooks did beyond the RMP instructions the table counts.</summary>
public struct PolicyCounters
{
    /// <summary>RMP lookups KVM made (prepare, the level clamp, the RMP fault handler, invalidation).</summary>
    public long RmpLookups;
}
