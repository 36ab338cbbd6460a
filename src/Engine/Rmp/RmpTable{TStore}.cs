using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// <see cref="RmpTable"/>'s instructions and checks over one kind of store, <typeparamref name="TStore"/>: a readonly
/// struct that forwards to a sealed store class (<see cref="CompactStoreHandle"/>, <see cref="RawStoreHandle"/>,
/// <see cref="SegmentedStoreHandle"/>).
/// </summary>
/// <remarks>
/// The JIT compiles this class once per struct type argument, so <c>_store.X(...)</c> is a direct call to that store's
/// method, inlined when small: the lookup is the store's two loads, and an RMPUPDATE makes no interface call. The
/// table was written against <see cref="IRmpStore"/> before; it called through the interface five or six times per
/// RMPUPDATE and twice per lookup (the range check read <see cref="IRmpStore.Pages"/>), and downcast to the compact
/// store for its run operations, which are now members of <see cref="IRmpStore"/> that every store implements.
/// </remarks>
internal sealed partial class RmpTable<TStore> : RmpTable
    where TStore : struct, IRmpStore
{
    private readonly TStore _store;

    /// <summary>A table over <paramref name="store"/>, reached through <paramref name="handle"/> (which wraps it).</summary>
    public RmpTable(IRmpStore store, TStore handle)
        : base(store)
    {
        _store = handle;
    }

    /// <inheritdoc />
    public override rmpentry_raw Read(kvm_pfn_t pfn)
    {
        Check(pfn.Value);
        return _store.Read(pfn.Value);
    }

    /// <inheritdoc />
    public override RmpLookup Lookup(kvm_pfn_t pfn)
    {
        Check(pfn.Value);
        _counters.Lookups++;
        return _store.Lookup(pfn.Value);
    }

    /// <inheritdoc />
    public override RmpUpdateResult RmpUpdate(kvm_pfn_t pfn, in rmp_state state)
    {
        ulong p = pfn.Value;
        Check(p);
        var result = Update(p, state);
        if (result == RmpUpdateResult.Success)
        {
            _counters.CountUpdate(huge: state.pagesize != 0, toPrivate: state.assigned != 0);
        }
        else
        {
            _counters.RmpUpdateFailed++;
        }

        return result;
    }

    /// <inheritdoc />
    public override PsmashResult Psmash(kvm_pfn_t pfn)
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
            _opt?.Disable(p); // a split turns RMPOPT off for the region (RMPOPT v9 5/6)
            _counters.Psmash++;
            return PsmashResult.Success;
        }

        _counters.PsmashFailed++;
        return result;
    }

    /// <inheritdoc />
    public override PvalidateResult Pvalidate(kvm_pfn_t pfn, uint asid, gfn_t gfn, RmpPageSize size, bool validate, out PageFaultErrorCode npf)
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

        if (size == RmpPageSize.Size4K)
        {
            _store.SetValidated(p, validate); // the entry is otherwise rewritten as it was: only the bit changes
        }
        else
        {
            entry.validated = validate;
            _store.Write2M(p >> 9, entry);
        }

        _counters.Pvalidate++;
        return PvalidateResult.Success;
    }

    /// <inheritdoc />
    public override RmpAdjustResult RmpAdjust(
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

        if (size == RmpPageSize.Size2M)
        {
            _store.Write2M(p >> 9, entry);
        }
        else
        {
            _store.Write4K(p, entry);
        }

        _counters.RmpAdjust++;
        return RmpAdjustResult.Success;
    }

    /// <inheritdoc />
    public override bool FirmwareLaunchPage(kvm_pfn_t pfn)
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

    /// <inheritdoc />
    public override PageFaultErrorCode CheckGuestAccess(
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
            return RaiseNpf(code | PageFaultErrorCode.GuestRmp); // no SIZEM on an access (see RmpTable.CheckGuestAccess)
        }

        notValidated = !entry.validated;
        return PageFaultErrorCode.None;
    }

    /// <inheritdoc />
    public override PageFaultErrorCode CheckHostWrite(kvm_pfn_t pfn, PgLevel hostLevel)
    {
        ulong p = pfn.Value;
        Check(p);
        if (_opt is { } opt)
        {
            // An optimised region holds no assigned page, so skipping the check changes no answer; it is counted.
            bool skipped = opt.IsOptimized(p >> RmpOptSummary.RegionShift);
            opt.HostWrite(pfn, 1);
            if (skipped)
            {
                return PageFaultErrorCode.None;
            }
        }
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
        if (huge && ((p & 511) != 0 || p + 512 > Pages
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

        if (state.assigned != 0)
        {
            _opt?.Disable(p); // an RMPUPDATE that assigns turns RMPOPT off for the region (see RmpOptSummary)
        }

        NoteUpdate(region, huge);
        return RmpUpdateResult.Success;
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

    private bool AnyAssignedIn1G(ulong p)
    {
        ulong first = (p & ~(ulong)(PageSize.PagesPer1G - 1)) >> 9;
        ulong last = Math.Min(first + 512, (Pages + 511) >> 9);
        for (ulong r = first; r < last; r++)
        {
            if (_store.AnyAssigned(r))
            {
                return true;
            }
        }

        return false;
    }
}
