using System.Runtime.CompilerServices;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP with the hardware's instruction semantics over either store: RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST,
/// KVM's lookup, and the RMP checks of guest and host accesses. Hardware-level failures are result codes; an
/// out-of-range pfn (which the kernel refuses before executing anything) is an exception.
/// </summary>
/// <remarks>
/// Models AMD APM vol. 2 15.36 and vol. 3 (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST) as summarised in
/// kernel-domain.md 4.1-4.5, with FastRmp's choices where the sources are silent written down in docs/rmp.md (the
/// check order, the state of the 511 non-head entries of a 2M entry, VMPL permissions in the high qword). The C
/// reference in native-stubs (rmp_ref.c) implements the same rules independently; tests run both on random
/// sequences. Not thread-safe.
/// </remarks>
public sealed partial class RmpTable : IDisposable
{
    private readonly IRmpStore _store;
    private readonly HashSet<ulong> _inUse = [];
    private RmpCounters _counters;

    /// <summary>Wraps a store; the table owns it from now on.</summary>
    public RmpTable(IRmpStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <summary>Creates a table over a <see cref="RawRmpStore"/>.</summary>
    public static RmpTable CreateRaw(ulong pages) => new(new RawRmpStore(pages));

    /// <summary>Creates a table over a <see cref="CompactRmpStore"/>.</summary>
    public static RmpTable CreateCompact(ulong pages) => new(new CompactRmpStore(pages));

    /// <summary>Creates a table over a <see cref="SegmentedRmpStore"/> with segments of 2^<paramref name="segmentShift"/> bytes.</summary>
    public static RmpTable CreateSegmented(ulong pages, int segmentShift = 36) => new(new SegmentedRmpStore(pages, segmentShift));

    /// <summary>Pages covered.</summary>
    public ulong Pages => _store.Pages;

    /// <summary>The store.</summary>
    public IRmpStore Store => _store;

    /// <summary>Operation counts.</summary>
    public ref RmpCounters Counters => ref _counters;

    /// <summary>
    /// Marks a page as in use by the hardware, as VMRUN does with a running vCPU's VMSA: RMPUPDATE and PSMASH that
    /// touch it return FAIL_INUSE until it is released.
    /// </summary>
    public void SetInUse(kvm_pfn_t pfn, bool inUse)
    {
        Check(pfn.Value);
        if (inUse)
        {
            _inUse.Add(pfn.Value);
        }
        else
        {
            _inUse.Remove(pfn.Value);
        }
    }

    /// <summary>The whole raw entry of a page (what RMPREAD reports, in the raw layout).</summary>
    public rmpentry_raw Read(kvm_pfn_t pfn)
    {
        Check(pfn.Value);
        return _store.Read(pfn.Value);
    }

    /// <summary>
    /// Models <c>snp_lookup_rmpentry</c> (arch/x86/virt/svm/sev.c, 6.11-6.18): assigned from the page's entry, level
    /// from the 2 MiB-aligned entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(kvm_pfn_t pfn)
    {
        Check(pfn.Value);
        _counters.Lookups++;
        return _store.Lookup(pfn.Value);
    }

    /// <summary>Models RMPUPDATE (F2 0F 01 FE): writes <paramref name="state"/> into the entry of <paramref name="pfn"/>.</summary>
    /// <remarks>
    /// Checks, in this order: FAIL_INPUT (reserved or out-of-range fields, a gpa not page-aligned, a 2M update of a
    /// pfn or gpa that is not 2 MiB-aligned or that runs past the table); FAIL_PERMISSION (an immutable entry: the
    /// page's, or any of the 512 for a 2M update); FAIL_INUSE (a page marked with <see cref="SetInUse"/>);
    /// FAIL_OVERLAP (a 4K update inside an assigned 2M entry, or a 2M update over a region with assigned 4K
    /// entries). On success the entry holds the new state with validated, vmsa and the VMPL permissions cleared; a
    /// hypervisor-owned state is stored as an all-zero entry.
    /// </remarks>
    public RmpUpdateResult RmpUpdate(kvm_pfn_t pfn, in rmp_state state)
    {
        ulong p = pfn.Value;
        Check(p);
        var result = Update(p, state);
        if (result == RmpUpdateResult.Success)
        {
            if (state.pagesize != 0)
            {
                _counters.RmpUpdate2M++;
            }
            else
            {
                _counters.RmpUpdate4K++;
            }

            if (state.assigned != 0)
            {
                _counters.RmpUpdateToPrivate++;
            }
            else
            {
                _counters.RmpUpdateToShared++;
            }
        }
        else
        {
            _counters.RmpUpdateFailed++;
        }

        return result;
    }

    private RmpUpdateResult Update(ulong p, in rmp_state state)
    {
        bool huge = state.pagesize != 0;
        if (state.assigned > 1 || state.pagesize > 1 || state.immutable > 1 || state.rsvd != 0
            || state.asid > rmpentry_raw.AsidMax || (state.gpa & PageSize.Mask4K) != 0
            || (state.gpa >> PageSize.Shift4K) > rmpentry_raw.GpaMax)
        {
            return RmpUpdateResult.FailInput;
        }

        ulong region = p >> 9;
        if (huge && ((p & 511) != 0 || p + 512 > _store.Pages
            || (state.assigned != 0 && ((state.gpa >> PageSize.Shift4K) & 511) != 0)))
        {
            return RmpUpdateResult.FailInput;
        }

        if (huge ? _store.AnyImmutable(region) : _store.Read(p).immutable)
        {
            return RmpUpdateResult.FailPermission;
        }

        if (AnyInUse(p, huge ? 512UL : 1))
        {
            return RmpUpdateResult.FailInUse;
        }

        if (huge ? !_store.IsHuge(region) && _store.AnyAssigned(region) : _store.IsHuge(region))
        {
            return RmpUpdateResult.FailOverlap;
        }

        var entry = default(rmpentry_raw);
        if (state.assigned != 0)
        {
            entry.assigned = true;
            entry.immutable = state.immutable != 0;
            entry.gpa = state.gpa >> PageSize.Shift4K;
            entry.asid = state.asid;
        }

        if (!huge)
        {
            _store.Write4K(p, entry);
        }
        else if (state.assigned != 0)
        {
            _store.Write2M(region, entry);
        }
        else
        {
            _store.Clear2M(region);
        }

        NoteUpdate(region, huge);
        return RmpUpdateResult.Success;
    }

    /// <summary>Models PSMASH (F3 0F 01 FF): splits the assigned 2M entry at <paramref name="pfn"/> into 512 4K entries.</summary>
    /// <remarks>
    /// FAIL_INPUT when the pfn is not 2 MiB-aligned or its entry is not an assigned 2M entry; FAIL_PERMISSION when it
    /// is immutable; FAIL_INUSE when a page of the region is in use. The 4K entries keep the owner, immutable,
    /// validated and permissions, with contiguous GPAs (kernel-domain.md 4.4).
    /// </remarks>
    public PsmashResult Psmash(kvm_pfn_t pfn)
    {
        ulong p = pfn.Value;
        Check(p);
        ulong region = p >> 9;
        PsmashResult result;
        if ((p & 511) != 0 || !_store.IsHuge(region))
        {
            result = PsmashResult.FailInput;
        }
        else if (_store.Read(p).immutable)
        {
            result = PsmashResult.FailPermission;
        }
        else if (AnyInUse(p, 512))
        {
            result = PsmashResult.FailInUse;
        }
        else
        {
            _store.Smash(region);
            MarkSmashed(region);
            _counters.Psmash++;
            return PsmashResult.Success;
        }

        _counters.PsmashFailed++;
        return result;
    }

    /// <summary>
    /// Models the guest's PVALIDATE (F2 0F 01 FF) of guest frame <paramref name="gfn"/>, which the NPT maps to
    /// <paramref name="pfn"/>, by the guest with <paramref name="asid"/>.
    /// </summary>
    /// <remarks>
    /// FAIL_INPUT for a 2M request whose gfn is not 2 MiB-aligned; FAIL_PERMISSION when the entry is not assigned to
    /// this ASID at this gfn, or is immutable; FAIL_SIZEMISMATCH for a 2M request over 4K entries (before the pfn's
    /// alignment is looked at: a 4K-backed page's pfn is arbitrary); FAIL_INPUT for a misaligned pfn; a 4K
    /// request on a page inside a 2M entry does not complete but raises #NPF(RMP, SIZEM) in
    /// <paramref name="npf"/> (the hypervisor answers with PSMASH); FAIL_NOUPDATE (CF = 1) when validated already
    /// has the requested value.
    /// </remarks>
    public PvalidateResult Pvalidate(kvm_pfn_t pfn, uint asid, gfn_t gfn, RmpPageSize size, bool validate, out PageFaultErrorCode npf)
    {
        ulong p = pfn.Value;
        Check(p);
        npf = PageFaultErrorCode.None;
        var result = GuestOwnerCheck(p, asid, gfn.Value, size, out var entry);
        if (result != PvalidateResult.Success)
        {
            return result;
        }

        if (size == RmpPageSize.Size4K && _store.IsHuge(p >> 9))
        {
            npf = RaiseNpf(PageFaultErrorCode.GuestRmp | PageFaultErrorCode.GuestSizeM);
            return PvalidateResult.Success;
        }

        if (entry.validated == validate)
        {
            return PvalidateResult.FailNoUpdate;
        }

        entry.validated = validate;
        if (size == RmpPageSize.Size4K && _store is CompactRmpStore compact)
        {
            compact.SetValidated(p, validate); // the entry is otherwise rewritten as it was: only the bit changes
        }
        else
        {
            Rewrite(p, size, entry);
        }

        _counters.Pvalidate++;
        return PvalidateResult.Success;
    }

    /// <summary>
    /// Models the guest's RMPADJUST (F3 0F 01 FE): a guest running at <paramref name="callerVmpl"/> sets the
    /// permissions of a higher <paramref name="targetVmpl"/> on its validated page, and optionally marks it a VMSA.
    /// </summary>
    /// <remarks>
    /// FAIL_INPUT for a misaligned 2M request, a VMPL above 3, permission bits above the five defined (R, W, XU, XS,
    /// SSS) or a 2M VMSA; FAIL_PERMISSION when the page is not this guest's validated, mutable page at this gfn, or
    /// the target VMPL is not higher than the caller's; FAIL_SIZEMISMATCH for 2M over 4K entries; #NPF(RMP, SIZEM)
    /// for 4K inside a 2M entry. The hardware keeps the permissions in the undocumented high qword; FastRmp's model
    /// stores VMPL v's mask in byte v of <see cref="rmpentry_raw.hi"/>.
    /// </remarks>
    public RmpAdjustResult RmpAdjust(
        kvm_pfn_t pfn, uint asid, gfn_t gfn, RmpPageSize size, int callerVmpl, int targetVmpl, byte permissions, bool vmsa,
        out PageFaultErrorCode npf)
    {
        ulong p = pfn.Value;
        Check(p);
        npf = PageFaultErrorCode.None;
        if ((uint)callerVmpl > 3 || (uint)targetVmpl > 3 || permissions > 0x1F || (vmsa && size == RmpPageSize.Size2M))
        {
            return RmpAdjustResult.FailInput;
        }

        var owner = GuestOwnerCheck(p, asid, gfn.Value, size, out var entry);
        if (owner != PvalidateResult.Success)
        {
            return owner switch
            {
                PvalidateResult.FailInput => RmpAdjustResult.FailInput,
                PvalidateResult.FailPermission => RmpAdjustResult.FailPermission,
                _ => RmpAdjustResult.FailSizeMismatch,
            };
        }

        if (!entry.validated || targetVmpl <= callerVmpl)
        {
            return RmpAdjustResult.FailPermission;
        }

        if (size == RmpPageSize.Size4K && _store.IsHuge(p >> 9))
        {
            npf = RaiseNpf(PageFaultErrorCode.GuestRmp | PageFaultErrorCode.GuestSizeM);
            return RmpAdjustResult.Success;
        }

        int shift = targetVmpl * 8;
        entry.hi = (entry.hi & ~(0xFFUL << shift)) | ((ulong)permissions << shift);
        if (vmsa)
        {
            entry.vmsa = true;
        }

        Rewrite(p, size, entry);
        _counters.RmpAdjust++;
        return RmpAdjustResult.Success;
    }

    /// <summary>
    /// The firmware's own change to a launch page (not an instruction): SNP_LAUNCH_UPDATE leaves the page validated
    /// for the guest, and LAUNCH_FINISH ends its immutability, so the guest never PVALIDATEs its payload. FastRmp
    /// applies both at once; the page must be an assigned, immutable 4K entry.
    /// </summary>
    public bool FirmwareLaunchPage(kvm_pfn_t pfn)
    {
        Check(pfn.Value);
        var entry = _store.Read(pfn.Value);
        if (!entry.assigned || !entry.immutable || _store.IsHuge(pfn.Value >> 9))
        {
            return false;
        }

        entry.immutable = false;
        entry.validated = true;
        _store.Write4K(pfn.Value, entry);
        return true;
    }

    /// <summary>
    /// The RMP check of a guest access to <paramref name="gfn"/> through an NPT leaf of <paramref name="nptLevel"/>
    /// that maps it to <paramref name="pfn"/> (APM vol. 2 15.36.10; kernel-domain.md 4.5). Returns the #NPF error
    /// code the hardware reports, or <see cref="PageFaultErrorCode.None"/> when the access proceeds.
    /// </summary>
    /// <remarks>
    /// A private (C-bit) access needs an entry assigned to the guest's ASID at that gfn, and an RMP page size equal to
    /// the NPT's (a 1G leaf is checked as 2M): else RMP, plus SIZEM for a size mismatch. A shared access to an
    /// assigned page faults with RMP. The code carries P, GUEST_FINAL, W for writes and ENC for private accesses. A
    /// private access to a page the guest has not validated reaches the guest as #VC 0x404
    /// (<paramref name="notValidated"/>) instead.
    /// </remarks>
    public PageFaultErrorCode CheckGuestAccess(
        kvm_pfn_t pfn, uint asid, gfn_t gfn, bool isPrivate, bool write, PgLevel nptLevel, out bool notValidated)
    {
        ulong p = pfn.Value;
        Check(p);
        _counters.GuestAccesses++;
        notValidated = false;
        var entry = _store.Read(p);
        var code = PageFaultErrorCode.Present | PageFaultErrorCode.GuestFinal
            | (write ? PageFaultErrorCode.Write : 0) | (isPrivate ? PageFaultErrorCode.GuestEnc : 0);
        if (!isPrivate)
        {
            return entry.assigned ? RaiseNpf(code | PageFaultErrorCode.GuestRmp) : PageFaultErrorCode.None;
        }

        if (!entry.assigned || entry.asid != asid || entry.gpa != gfn.Value)
        {
            return RaiseNpf(code | PageFaultErrorCode.GuestRmp);
        }

        if (_store.IsHuge(p >> 9) != (nptLevel >= PgLevel.Level2M))
        {
            return RaiseNpf(code | PageFaultErrorCode.GuestRmp | PageFaultErrorCode.GuestSizeM);
        }

        notValidated = !entry.validated;
        return PageFaultErrorCode.None;
    }

    /// <summary>
    /// The RMP check of a host write to <paramref name="pfn"/> through a host mapping of <paramref name="hostLevel"/>:
    /// a #PF with the RMP bit (31) when any page the mapping covers is assigned, else none (kernel-domain.md 4.5).
    /// Host reads are never RMP-faulted.
    /// </summary>
    public PageFaultErrorCode CheckHostWrite(kvm_pfn_t pfn, PgLevel hostLevel)
    {
        ulong p = pfn.Value;
        Check(p);
        bool assigned = hostLevel switch
        {
            PgLevel.Level4K => _store.IsAssigned(p),
            PgLevel.Level2M => _store.AnyAssigned(p >> 9),
            _ => AnyAssignedIn1G(p),
        };
        if (!assigned)
        {
            return PageFaultErrorCode.None;
        }

        _counters.HostFaults++;
        return PageFaultErrorCode.Present | PageFaultErrorCode.Write | PageFaultErrorCode.GuestRmp;
    }

    /// <summary>Disposes the store.</summary>
    /// <remarks>
    /// Later calls do nothing. A disposed store covers no pages, so every instruction and check, which all start by
    /// checking the pfn against the store's size, then throws <see cref="ObjectDisposedException"/> from that check's
    /// slow path: the hot lookups pay nothing for it.
    /// </remarks>
    public void Dispose() => _store.Dispose();

    /// <summary>
    /// True when every page of [<paramref name="pfn"/>, + <paramref name="count"/>) is assigned to
    /// <paramref name="asid"/> at gfn <paramref name="gfn"/> + i. Not an instruction: whole-VM checks use it to pass a
    /// run of private 4K mappings at once, and look page by page when it says false. A true answer counts the
    /// <paramref name="count"/> lookups the page-by-page check would have made.
    /// </summary>
    internal bool IsGuestRun(kvm_pfn_t pfn, ulong count, uint asid, gfn_t gfn)
    {
        if (count == 0 || pfn.Value >= _store.Pages || count > _store.Pages - pfn.Value)
        {
            return false;
        }

        bool all = true;
        if (_store is CompactRmpStore compact)
        {
            all = compact.IsGuestRun(pfn.Value, count, asid, gfn.Value);
        }
        else
        {
            for (ulong i = 0; i < count && all; i++)
            {
                var entry = _store.Read(pfn.Value + i);
                all = entry.assigned && entry.asid == asid && entry.gpa == gfn.Value + i;
            }
        }

        if (all)
        {
            _counters.Lookups += (long)count; // what checking the run page by page (Lookup, then Read) counts
        }

        return all;
    }

    /// <summary>
    /// Over [<paramref name="pfn"/>, + <paramref name="count"/>): the entries assigned to <paramref name="asid"/> that
    /// are 2M heads, and those that are 4K entries outside 2M entries (not counted as lookups).
    /// </summary>
    internal void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        Check(pfn.Value);
        if (count > _store.Pages - pfn.Value)
        {
            ThrowOutOfRange(pfn.Value + count - 1);
        }

        if (_store is CompactRmpStore compact)
        {
            compact.CountGuestEntries(pfn.Value, count, asid, ref heads2M, ref entries4K);
            return;
        }

        CountGuestEntriesByRead(pfn, count, asid, ref heads2M, ref entries4K);
    }

    /// <summary>
    /// <see cref="CountGuestEntries(kvm_pfn_t, ulong, uint, ref long, ref long)"/> for one of many short runs in no
    /// pfn order: with the compact store each region's entries of the ASID are read once into <paramref name="cache"/>
    /// (created by <see cref="CreateGuestMaskCache"/> for the same ASID); same counts.
    /// </summary>
    internal void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K, GuestMaskCache? cache)
    {
        Check(pfn.Value);
        if (count > _store.Pages - pfn.Value)
        {
            ThrowOutOfRange(pfn.Value + count - 1);
        }

        if (cache is null || _store is not CompactRmpStore compact)
        {
            CountGuestEntries(pfn, count, asid, ref heads2M, ref entries4K);
            return;
        }

        for (ulong p = pfn.Value, end = p + count; p < end;)
        {
            ulong region = p >> 9;
            ulong stop = Math.Min(end, (region + 1) << 9);
            ulong first = p & 511;
            if (!compact.IsHuge(region))
            {
                entries4K += cache.Count(region, first, stop - p);
            }
            else if (first == 0 && compact.HeadAsid(region) == asid)
            {
                heads2M++;
            }

            p = stop;
        }
    }

    /// <summary>A cache for <see cref="CountGuestEntries(kvm_pfn_t, ulong, uint, ref long, ref long, GuestMaskCache?)"/>, or null when the store does not need one.</summary>
    internal GuestMaskCache? CreateGuestMaskCache(uint asid) => _store is CompactRmpStore compact ? new GuestMaskCache(compact, asid) : null;

    private void CountGuestEntriesByRead(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
    {
        for (ulong p = pfn.Value; p < pfn.Value + count; p++)
        {
            var entry = _store.Read(p);
            if (!entry.assigned || entry.asid != asid)
            {
                continue;
            }

            if (entry.pagesize)
            {
                heads2M++;
            }
            else if (!_store.IsHuge(p >> 9))
            {
                entries4K++;
            }
        }
    }

    private PvalidateResult GuestOwnerCheck(ulong p, uint asid, ulong gfn, RmpPageSize size, out rmpentry_raw entry)
    {
        bool huge = size == RmpPageSize.Size2M;
        entry = default;
        if (huge && (gfn & 511) != 0)
        {
            return PvalidateResult.FailInput;
        }

        entry = _store.Read(p);
        if (!entry.assigned || entry.asid != asid || entry.gpa != gfn || entry.immutable)
        {
            return PvalidateResult.FailPermission;
        }

        if (huge && !_store.IsHuge(p >> 9))
        {
            return PvalidateResult.FailSizeMismatch; // what a guest sees on 4K-backed memory, whatever the SPA's alignment
        }

        return huge && (p & 511) != 0 ? PvalidateResult.FailInput : PvalidateResult.Success;
    }

    private void Rewrite(ulong p, RmpPageSize size, rmpentry_raw entry)
    {
        if (size == RmpPageSize.Size2M)
        {
            _store.Write2M(p >> 9, entry);
        }
        else
        {
            _store.Write4K(p, entry);
        }
    }

    private bool AnyInUse(ulong first, ulong count)
    {
        if (_inUse.Count == 0)
        {
            return false;
        }

        foreach (ulong p in _inUse)
        {
            if (p - first < count)
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyAssignedIn1G(ulong p)
    {
        ulong first = (p & ~(ulong)(PageSize.PagesPer1G - 1)) >> 9;
        ulong last = Math.Min(first + 512, (_store.Pages + 511) >> 9);
        for (ulong r = first; r < last; r++)
        {
            if (_store.AnyAssigned(r))
            {
                return true;
            }
        }

        return false;
    }

    private PageFaultErrorCode RaiseNpf(PageFaultErrorCode code)
    {
        _counters.NestedPageFaults++;
        return code;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Check(ulong p)
    {
        if (p >= _store.Pages)
        {
            ThrowOutOfRange(p);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowOutOfRange(ulong p)
    {
        if (_store.Pages == 0)
        {
            throw Memory.Disposal.Exception(this); // a live store covers at least one page; a disposed one covers none
        }

        throw new ArgumentOutOfRangeException(nameof(p), $"pfn 0x{p:x} is outside the RMP, which covers pfns 0..0x{_store.Pages - 1:x}.");
    }
}
