using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Tdx;

/// <summary>The state of a Secure EPT leaf as the TDX module keeps it.</summary>
public enum SeptState : byte
{
    /// <summary>No leaf.</summary>
    Free = 0,

    /// <summary>Mapped by TDH.MEM.PAGE.AUG, not yet accepted by the guest.</summary>
    Pending = 1,

    /// <summary>Mapped and usable: accepted by the guest, or added by TDH.MEM.PAGE.ADD while the TD was built.</summary>
    Mapped = 2,
}

/// <summary>A Secure EPT leaf: its level, state, and whether it is blocked.</summary>
/// <param name="Level">4K or 2M; <see cref="PgLevel.None"/> when there is none.</param>
/// <param name="State">Pending or mapped.</param>
/// <param name="Blocked">TDH.MEM.RANGE.BLOCK was applied and the leaf not yet removed or demoted.</param>
public readonly record struct SeptLeaf(PgLevel Level, SeptState State, bool Blocked)
{
    /// <summary>True when a leaf is there.</summary>
    public bool IsPresent => Level != PgLevel.None;
}

/// <summary>
/// One TD's side of the TDX module: its Secure EPT (leaves with their PENDING/MAPPED/BLOCKED state and the page-table
/// pages KVM added with TDH.MEM.SEPT.ADD), the TD epoch TDH.MEM.TRACK advances, and the SEAMCALLs and the guest's
/// TDCALL that change them, each returning the module's status. The host's PAMT is shared (<see cref="Pamt"/>).
/// </summary>
/// <remarks>
/// Semantics from the kernel's use of the module (arch/x86/kvm/vmx/tdx.c and arch/x86/virt/vmx/tdx/tdx.c, 6.16), the
/// TDX huge-page series (Yan Zhao, RFC v2 2025-08-07: DEMOTE needs RANGE.BLOCK and TRACK first; an ACCEPT smaller than
/// the leaf exits to KVM; a larger one returns TDX_PAGE_SIZE_MISMATCH) and the guest's <c>try_accept_one</c>
/// (arch/x86/coco/tdx/tdx-shared.c). The Secure EPT has four levels (GPAW 48): the root belongs to the TD's control
/// structures; TDH.MEM.SEPT.ADD adds the table under a 512 GiB, 1 GiB or 2 MiB entry. Only 4 KiB and 2 MiB leaves
/// exist (no 1 GiB private mappings in KVM). Not modelled: TD control pages, TDH.MEM.PAGE.PROMOTE (KVM never
/// promotes; the series disallows it), TDX_OPERAND_BUSY contention, the page contents. Not thread-safe.
/// </remarks>
public sealed class TdxModule
{
    private const byte BlockedBit = 0x80;
    private const byte StateMask = 0x03;
    private readonly Dictionary<ulong, Region> _regions = [];
    private readonly HashSet<ulong> _pdptTables = [];
    private ulong _lastRegionIndex = ulong.MaxValue;
    private Region? _lastRegion;
    private long _septPages;
    private readonly Dictionary<ulong, ulong> _blockedAt = [];
    private TdxCounters _counters;
    private ulong _epoch;

    /// <summary>A TD on a host with <paramref name="pamt"/>.</summary>
    public TdxModule(TdxPamt pamt)
    {
        ArgumentNullException.ThrowIfNull(pamt);
        Pamt = pamt;
    }

    /// <summary>The host's PAMT.</summary>
    public TdxPamt Pamt { get; }

    /// <summary>The counts.</summary>
    public ref TdxCounters Counters => ref _counters;

    /// <summary>True once TDH.MR.FINALIZE ran: the TD is runnable, PAGE.ADD is over and PAGE.AUG begins.</summary>
    public bool Finalized { get; private set; }

    /// <summary>Secure EPT page-table pages (TDH.MEM.SEPT.ADD, never removed while the TD lives).</summary>
    public long SeptPages => _septPages;

    /// <summary>TDH.MR.FINALIZE: the TD's build is over.</summary>
    public void FinalizeBuild() => Finalized = true;

    /// <summary>The leaf that maps <paramref name="gfn"/>, if any.</summary>
    public SeptLeaf Lookup(gfn_t gfn)
    {
        if (RegionOf(gfn) is not { } region)
        {
            return default;
        }

        int chunk = ChunkIndex(gfn);
        var table = region.Tables[chunk];
        byte raw = table is not null ? table[gfn.Value & 511] : region.Leaves2M[chunk];
        var level = table is not null ? PgLevel.Level4K : PgLevel.Level2M;
        return (raw & StateMask) == 0 ? default : new SeptLeaf(level, (SeptState)(raw & StateMask), (raw & BlockedBit) != 0);
    }

    /// <summary>True when the 2 MiB range of <paramref name="gfn"/> has a 4 KiB page table (a 2M leaf cannot go there).</summary>
    public bool HasPageTable(gfn_t gfn) => RegionOf(gfn)?.Tables[ChunkIndex(gfn)] is not null;

    /// <summary>
    /// TDH.MEM.SEPT.ADD: adds the page-table page under the entry of <paramref name="tdxLevel"/> (1: the table of 4 KiB
    /// entries under a 2 MiB entry; 2: under a 1 GiB entry; 3: under a 512 GiB entry) covering <paramref name="gfn"/>.
    /// TDX_EPT_ENTRY_NOT_FREE when a leaf or table is there already, TDX_EPT_WALK_FAILED when the level above is missing.
    /// </summary>
    public TdxStatus SeptAdd(gfn_t gfn, int tdxLevel, kvm_pfn_t page)
    {
        switch (tdxLevel)
        {
            case 3:
                if (!_pdptTables.Add(gfn.Value >> 27))
                {
                    return TdxStatus.EptEntryNotFree;
                }

                break;
            case 2:
                if (!_pdptTables.Contains(gfn.Value >> 27))
                {
                    return TdxStatus.EptWalkFailed;
                }

                if (RegionOf(gfn) is not null)
                {
                    return TdxStatus.EptEntryNotFree;
                }

                _regions.Add(gfn.Value >> 18, new Region());
                _lastRegionIndex = ulong.MaxValue;
                break;
            case 1:
                if (RegionOf(gfn) is not { } region)
                {
                    return TdxStatus.EptWalkFailed;
                }

                int chunk = ChunkIndex(gfn);
                if (region.Tables[chunk] is not null || region.Leaves2M[chunk] != 0)
                {
                    return TdxStatus.EptEntryNotFree;
                }

                region.Tables[chunk] = new byte[512];
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(tdxLevel), tdxLevel, "TDH.MEM.SEPT.ADD takes level 1, 2 or 3.");
        }

        _septPages++;
        Pamt.Get(page);
        _counters.SeptAdd++;
        return TdxStatus.Success;
    }

    /// <summary>True when the table under the entry of <paramref name="tdxLevel"/> (3: 512 GiB, 2: 1 GiB) covering <paramref name="gfn"/> exists.</summary>
    public bool CanLinkBelow(gfn_t gfn, int tdxLevel) => tdxLevel == 3 ? _pdptTables.Contains(gfn.Value >> 27) : RegionOf(gfn) is not null;

    /// <summary>True when the tables down to <paramref name="level"/>'s entry for <paramref name="gfn"/> exist.</summary>
    public bool CanMap(gfn_t gfn, PgLevel level)
        => RegionOf(gfn) is { } region && (level == PgLevel.Level2M || region.Tables[ChunkIndex(gfn)] is not null);

    /// <summary>TDH.MEM.PAGE.ADD: a 4 KiB page of the initial image, mapped (no acceptance needed), while the TD is built.</summary>
    /// <exception cref="InvalidOperationException">
    /// The TD is finalized: KVM never makes this call then (<c>tdx_vcpu_init_mem_region</c> returns -EINVAL first), and the
    /// module's own status for it is not modelled.
    /// </exception>
    public TdxStatus PageAdd(gfn_t gfn, kvm_pfn_t pfn)
    {
        if (Finalized)
        {
            throw new InvalidOperationException("TDH.MEM.PAGE.ADD in a finalized TD: KVM refuses KVM_TDX_INIT_MEM_REGION with EINVAL before it.");
        }

        var status = SetLeaf(gfn, PgLevel.Level4K, SeptState.Mapped);
        if (status == TdxStatus.Success)
        {
            Pamt.Get(pfn);
            _counters.PageAdd++;
        }

        return status;
    }

    /// <summary>TDH.MR.EXTEND over one 4 KiB page: 16 calls of 256 bytes (<c>TDX_EXTENDMR_CHUNKSIZE</c>).</summary>
    public void MeasurePage() => _counters.MrExtend += (long)(PageSize.Size4K / 256);

    /// <summary>TDH.MEM.PAGE.AUG: maps <paramref name="pfn"/> at <paramref name="level"/>, PENDING until the guest accepts it.</summary>
    public TdxStatus PageAug(gfn_t gfn, PgLevel level, kvm_pfn_t pfn)
    {
        var status = SetLeaf(gfn, level, SeptState.Pending);
        if (status == TdxStatus.Success)
        {
            if (level == PgLevel.Level4K)
            {
                Pamt.Get(pfn);
                _counters.PageAug4K++;
            }
            else
            {
                _counters.PageAug2M++;
            }
        }

        return status;
    }

    /// <summary>TDH.MEM.RANGE.BLOCK: the leaf at <paramref name="level"/> stops translating; TLBs must be tracked before it goes.</summary>
    public TdxStatus RangeBlock(gfn_t gfn, PgLevel level)
    {
        var leaf = Lookup(gfn);
        if (!leaf.IsPresent)
        {
            return TdxStatus.EptEntryFree;
        }

        if (leaf.Level != level)
        {
            return leaf.Level > level ? TdxStatus.EptEntryLeaf : TdxStatus.EptEntryNotLeaf;
        }

        _counters.RangeBlock++;
        if (leaf.Blocked)
        {
            return TdxStatus.GpaRangeAlreadyBlocked;
        }

        ref byte raw = ref RawLeaf(gfn, level);
        raw |= BlockedBit;
        _blockedAt[Key(gfn, level)] = _epoch;
        return TdxStatus.Success;
    }

    /// <summary>TDH.MEM.TRACK: advances the TD epoch; KVM then kicks every vCPU out so that no stale translation survives.</summary>
    public TdxStatus Track()
    {
        _epoch++;
        _counters.Track++;
        return TdxStatus.Success;
    }

    /// <summary>TDH.MEM.PAGE.REMOVE of a blocked, tracked leaf at <paramref name="level"/>.</summary>
    public TdxStatus PageRemove(gfn_t gfn, PgLevel level)
    {
        var status = CheckBlockedAndTracked(gfn, level);
        if (status != TdxStatus.Success)
        {
            return status;
        }

        RawLeaf(gfn, level) = 0;
        _blockedAt.Remove(Key(gfn, level));
        _counters.Remove++;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.MEM.PAGE.DEMOTE: the blocked, tracked 2 MiB leaf of <paramref name="gfn"/> becomes a table (the page
    /// <paramref name="table"/>) of 512 4 KiB leaves in the leaf's state, unblocked.
    /// </summary>
    public TdxStatus PageDemote(gfn_t gfn, kvm_pfn_t table)
    {
        var status = CheckBlockedAndTracked(gfn, PgLevel.Level2M);
        if (status != TdxStatus.Success)
        {
            return status;
        }

        var region = RegionOf(gfn)!;
        int chunk = ChunkIndex(gfn);
        byte state = (byte)(region.Leaves2M[chunk] & StateMask);
        region.Leaves2M[chunk] = 0;
        var leaves = new byte[512];
        leaves.AsSpan().Fill(state);
        region.Tables[chunk] = leaves;
        _septPages++;
        _blockedAt.Remove(Key(gfn, PgLevel.Level2M));
        Pamt.Get(table);
        _counters.Demote++;
        return TdxStatus.Success;
    }

    /// <summary>TDH.PHYMEM.PAGE.WBINVD of a page the TD's key wrote.</summary>
    public void PageWbinvd() => _counters.Wbinvd++;

    /// <summary>
    /// TDG.MEM.PAGE.ACCEPT from the guest at <paramref name="level"/>: PENDING becomes MAPPED when the leaf has that
    /// size; TDX_PAGE_SIZE_MISMATCH when the leaf is smaller (or a table sits where a larger leaf was asked);
    /// <see cref="AcceptResult.EptViolation"/> when nothing maps the page or the leaf is larger than the accept (KVM must
    /// map or split); TDX_PAGE_ALREADY_ACCEPTED when it is mapped already.
    /// </summary>
    public AcceptResult Accept(gfn_t gfn, PgLevel level)
    {
        // The walk stops at the accept level's entry: a table there (a smaller mapping) is a size mismatch; no table on
        // the way (nothing mapped in the 1 GiB region) is an EPT violation for KVM to map.
        bool tableAtLevel = level switch
        {
            PgLevel.Level1G => RegionOf(gfn) is not null,
            PgLevel.Level2M => HasPageTable(gfn),
            _ => false,
        };
        if (tableAtLevel)
        {
            _counters.AcceptSizeMismatch++;
            return AcceptResult.SizeMismatch;
        }

        var leaf = Lookup(gfn);
        if (!leaf.IsPresent || leaf.Blocked || (leaf.Level > level && leaf.State == SeptState.Pending))
        {
            _counters.AcceptEptViolations++;
            return AcceptResult.EptViolation;
        }

        if (leaf.State == SeptState.Mapped)
        {
            _counters.AcceptAlready++;
            return AcceptResult.AlreadyAccepted;
        }

        RawLeaf(gfn, level) = (byte)SeptState.Mapped;
        if (level == PgLevel.Level4K)
        {
            _counters.Accepted4K++;
        }
        else
        {
            _counters.Accepted2M++;
        }

        return AcceptResult.Accepted;
    }

    /// <summary>Visits the leaves that intersect [<paramref name="start"/>, <paramref name="end"/>): the gfn each starts at and its level.</summary>
    public void ForEachLeaf(gfn_t start, gfn_t end, Action<gfn_t, PgLevel> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        for (ulong c = start.Value >> 9; c <= (end.Value - 1) >> 9 && end > start; c++)
        {
            var chunkGfn = new gfn_t(c << 9);
            if (RegionOf(chunkGfn) is not { } region)
            {
                c |= 511; // the next 1 GiB region
                continue;
            }

            int chunk = ChunkIndex(chunkGfn);
            if (region.Tables[chunk] is not { } table)
            {
                if (region.Leaves2M[chunk] != 0)
                {
                    visit(chunkGfn, PgLevel.Level2M);
                }

                continue;
            }

            ulong from = Math.Max(start.Value, c << 9), to = Math.Min(end.Value, (c + 1) << 9);
            for (ulong g = from; g < to; g++)
            {
                if (table[g & 511] != 0)
                {
                    visit(new gfn_t(g), PgLevel.Level4K);
                }
            }
        }
    }

    private TdxStatus CheckBlockedAndTracked(gfn_t gfn, PgLevel level)
    {
        var leaf = Lookup(gfn);
        if (!leaf.IsPresent || leaf.Level != level)
        {
            return leaf.IsPresent ? TdxStatus.EptEntryNotLeaf : TdxStatus.EptEntryFree;
        }

        if (!leaf.Blocked)
        {
            return TdxStatus.GpaRangeNotBlocked;
        }

        // Before TDH.MR.FINALIZE no vCPU has run, so there is no translation to track (KVM's tdx_track skips the TRACK).
        return !Finalized || _blockedAt[Key(gfn, level)] < _epoch ? TdxStatus.Success : TdxStatus.TlbTrackingNotDone;
    }

    private TdxStatus SetLeaf(gfn_t gfn, PgLevel level, SeptState state)
    {
        if (!CanMap(gfn, level))
        {
            return TdxStatus.EptWalkFailed;
        }

        var region = RegionOf(gfn)!;
        int chunk = ChunkIndex(gfn);
        if (level == PgLevel.Level2M)
        {
            if ((gfn.Value & 511) != 0)
            {
                throw new ArgumentException($"A 2 MiB leaf needs a 2 MiB-aligned gfn, not {gfn}.", nameof(gfn));
            }

            if (region.Tables[chunk] is not null)
            {
                return TdxStatus.EptEntryNotLeaf;
            }

            if (region.Leaves2M[chunk] != 0)
            {
                return TdxStatus.EptEntryNotFree;
            }

            region.Leaves2M[chunk] = (byte)state;
            return TdxStatus.Success;
        }

        ref byte raw = ref region.Tables[chunk]![gfn.Value & 511];
        if (raw != 0)
        {
            return TdxStatus.EptEntryNotFree;
        }

        raw = (byte)state;
        return TdxStatus.Success;
    }

    private ref byte RawLeaf(gfn_t gfn, PgLevel level)
    {
        var region = RegionOf(gfn)!;
        int chunk = ChunkIndex(gfn);
        if (level == PgLevel.Level2M)
        {
            return ref region.Leaves2M[chunk];
        }

        return ref region.Tables[chunk]![gfn.Value & 511];
    }

    /// <summary>The 1 GiB region of <paramref name="gfn"/> when its table exists (the last one found is kept: faults come in runs).</summary>
    private Region? RegionOf(gfn_t gfn)
    {
        ulong index = gfn.Value >> 18;
        if (index == _lastRegionIndex)
        {
            return _lastRegion;
        }

        if (!_regions.TryGetValue(index, out var region))
        {
            return null;
        }

        _lastRegionIndex = index;
        _lastRegion = region;
        return region;
    }

    private static int ChunkIndex(gfn_t gfn) => (int)((gfn.Value >> 9) & 511);

    private static ulong Key(gfn_t gfn, PgLevel level) => level == PgLevel.Level2M ? (gfn.Value & ~511UL) | (1UL << 63) : gfn.Value;

    /// <summary>
    /// The Secure EPT under one 1 GiB entry (its table exists): per 2 MiB entry a 2M leaf's state, or a table of 512 4K
    /// leaves' states.
    /// </summary>
    private sealed class Region
    {
        public readonly byte[] Leaves2M = new byte[512];
        public readonly byte[]?[] Tables = new byte[]?[512];
    }
}

/// <summary>What TDG.MEM.PAGE.ACCEPT did.</summary>
public enum AcceptResult
{
    /// <summary>The page went from PENDING to MAPPED.</summary>
    Accepted,

    /// <summary>TDX_PAGE_ALREADY_ACCEPTED (success with a warning).</summary>
    AlreadyAccepted,

    /// <summary>TDX_PAGE_SIZE_MISMATCH: the guest retries at a smaller size.</summary>
    SizeMismatch,

    /// <summary>An EPT violation exit to KVM (nothing mapped, or a larger pending leaf); the guest retries after KVM handles it.</summary>
    EptViolation,
}
