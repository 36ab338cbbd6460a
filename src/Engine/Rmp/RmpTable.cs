using System.Runtime.CompilerServices;
using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Rmp;

/// <summary>
/// The RMP with the hardware's instruction semantics over any store: RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST,
/// KVM's lookup, and the RMP checks of guest and host accesses. Hardware-level failures are result codes; an
/// out-of-range pfn (which the kernel refuses before executing anything) is an exception.
/// </summary>
/// <remarks>
/// Models AMD APM vol. 2 15.36 and vol. 3 (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST) as summarised in
/// kernel-domain.md 4.1-4.5, with FastRmp's choices where the sources are silent written down in docs/rmp.md (the
/// check order, the state of the 511 non-head entries of a 2M entry, VMPL permissions in the high qword). The C
/// reference in native-stubs (rmp_ref.c) implements the same rules independently; tests run both on random
/// sequences. Not thread-safe.
/// <para>
/// This type is the API; the instructions are implemented once, in RmpTable{TStore}, which the factories
/// specialise on the store (a struct type argument per store class), so that inside an operation every store call
/// is direct and the small ones (the lookup's bitmap reads) are inlined. A caller holding an <see cref="RmpTable"/>
/// pays one virtual call per operation. The state that does not depend on the store (counters, pages in use, the
/// smashed-region marks) lives here.
/// </para>
/// </remarks>
public abstract partial class RmpTable : IDisposable
{
    /// <summary>Pages in use by the hardware (see <see cref="SetInUse"/>).</summary>
    private protected readonly HashSet<ulong> _inUse = [];

    /// <summary>Operation counts, incremented by the implementation.</summary>
    private protected RmpCounters _counters;

    /// <summary>The host's RMPOPT summary (null unless <see cref="EnableRmpOpt"/> was called): told of every change that ends a region's optimisation.</summary>
    private protected RmpOptSummary? _opt;

    // Copied from the store: the range check of every operation reads a field instead of calling the store.
    private ulong _pages;
    private readonly IRmpStore _store;

    private protected RmpTable(IRmpStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _pages = store.Pages;
    }

    /// <summary>Creates a table over a <see cref="RawRmpStore"/>.</summary>
    public static RmpTable CreateRaw(ulong pages) => Create(new RawRmpStore(pages));

    /// <summary>Creates a table over a <see cref="CompactRmpStore"/>.</summary>
    public static RmpTable CreateCompact(ulong pages) => Create(new CompactRmpStore(pages));

    /// <summary>Creates a table over a <see cref="SegmentedRmpStore"/> with segments of 2^<paramref name="segmentShift"/> bytes.</summary>
    public static RmpTable CreateSegmented(ulong pages, int segmentShift = 36) => Create(new SegmentedRmpStore(pages, segmentShift));

    /// <summary>Wraps a compact store; the table owns it from now on.</summary>
    public static RmpTable Create(CompactRmpStore store) => new RmpTable<CompactStoreHandle>(store, new CompactStoreHandle(store));

    /// <summary>Wraps a raw store; the table owns it from now on.</summary>
    public static RmpTable Create(RawRmpStore store) => new RmpTable<RawStoreHandle>(store, new RawStoreHandle(store));

    /// <summary>Wraps a segmented store; the table owns it from now on.</summary>
    public static RmpTable Create(SegmentedRmpStore store) => new RmpTable<SegmentedStoreHandle>(store, new SegmentedStoreHandle(store));

    /// <summary>Pages covered.</summary>
    public ulong Pages => _pages;

    /// <summary>The store.</summary>
    public IRmpStore Store => _store;

    /// <summary>Operation counts.</summary>
    public ref RmpCounters Counters => ref _counters;

    /// <summary>The RMPOPT summary of the host this table belongs to, or null when the host has none (the default).</summary>
    public RmpOptSummary? RmpOpt => _opt;

    /// <summary>
    /// Gives the table an RMPOPT summary and runs the pass the kernel makes once SNP is enabled
    /// (<see cref="RmpOptSummary.Pass"/>): every covered 1 GiB region without an assigned entry is optimised. From now
    /// on a successful RMPUPDATE that assigns a page, and a successful PSMASH, turn their region's optimisation off.
    /// </summary>
    /// <remarks>Models the RMPOPT series' setup at SNP initialisation (RMPOPT v10, 2026-06-30; docs/rmpopt.md).</remarks>
    /// <exception cref="InvalidOperationException">The table has a summary already.</exception>
    public RmpOptSummary EnableRmpOpt()
    {
        Check(0);
        if (_opt is not null)
        {
            throw new InvalidOperationException("The RMP has an RMPOPT summary already.");
        }

        var summary = new RmpOptSummary(_pages);
        summary.Pass(this, afterTeardown: false);
        _opt = summary;
        return summary;
    }

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
    public abstract rmpentry_raw Read(kvm_pfn_t pfn);

    /// <summary>
    /// Models <c>snp_lookup_rmpentry</c> (arch/x86/virt/svm/sev.c, 6.11-6.18): assigned from the page's entry, level
    /// from the 2 MiB-aligned entry.
    /// </summary>
    public abstract RmpLookup Lookup(kvm_pfn_t pfn);

    /// <summary>Models RMPUPDATE (F2 0F 01 FE): writes <paramref name="state"/> into the entry of <paramref name="pfn"/>.</summary>
    /// <remarks>
    /// Checks, in this order: FAIL_INPUT (reserved or out-of-range fields, a gpa not page-aligned, a 2M update of a
    /// pfn or gpa that is not 2 MiB-aligned or that runs past the table); FAIL_PERMISSION (an immutable entry: the
    /// page's, or any of the 512 for a 2M update); FAIL_INUSE (a page marked with <see cref="SetInUse"/>);
    /// FAIL_OVERLAP (a 4K update inside an assigned 2M entry, or a 2M update over a region with assigned 4K
    /// entries). On success the entry holds the new state with validated, vmsa and the VMPL permissions cleared; a
    /// hypervisor-owned state is stored as an all-zero entry.
    /// </remarks>
    public abstract RmpUpdateResult RmpUpdate(kvm_pfn_t pfn, in rmp_state state);

    /// <summary>Models PSMASH (F3 0F 01 FF): splits the assigned 2M entry at <paramref name="pfn"/> into 512 4K entries.</summary>
    /// <remarks>
    /// FAIL_INPUT when the pfn is not 2 MiB-aligned or its entry is not an assigned 2M entry; FAIL_PERMISSION when it
    /// is immutable; FAIL_INUSE when a page of the region is in use. The 4K entries keep the owner, immutable,
    /// validated and permissions, with contiguous GPAs (kernel-domain.md 4.4).
    /// </remarks>
    public abstract PsmashResult Psmash(kvm_pfn_t pfn);

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
    public abstract PvalidateResult Pvalidate(kvm_pfn_t pfn, uint asid, gfn_t gfn, RmpPageSize size, bool validate, out PageFaultErrorCode npf);

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
    public abstract RmpAdjustResult RmpAdjust(
        kvm_pfn_t pfn, uint asid, gfn_t gfn, RmpPageSize size, int callerVmpl, int targetVmpl, byte permissions, bool vmsa,
        out PageFaultErrorCode npf);

    /// <summary>
    /// The firmware's own change to a launch page (not an instruction): SNP_LAUNCH_UPDATE leaves the page validated
    /// for the guest, and LAUNCH_FINISH ends its immutability, so the guest never PVALIDATEs its payload. FastRmp
    /// applies both at once; the page must be an assigned, immutable 4K entry.
    /// </summary>
    public abstract bool FirmwareLaunchPage(kvm_pfn_t pfn);

    /// <summary>
    /// The RMP check of a guest access to <paramref name="gfn"/> through an NPT leaf of <paramref name="nptLevel"/>
    /// that maps it to <paramref name="pfn"/> (APM vol. 2 15.36.10; kernel-domain.md 4.5). Returns the #NPF error
    /// code the hardware reports, or <see cref="PageFaultErrorCode.None"/> when the access proceeds.
    /// </summary>
    /// <remarks>
    /// A private (C-bit) access needs an entry assigned to the guest's ASID at that gfn, and an RMP page size equal to
    /// the NPT's (a 1G leaf is checked as 2M): else #NPF with the RMP bit. A size mismatch on an access carries the RMP
    /// bit only, never SIZEM: SIZEM is defined for PVALIDATE and RMPADJUST (APM vol. 2 15.36.10; Michael Roth,
    /// 2023-08-25: "(and not #NPF+RMP+SIZEM as I incorrectly stated above)"; upstream-2024-2026.md, corrections). A
    /// shared access to an assigned page faults with RMP. The code carries P, GUEST_FINAL, W for writes and ENC for
    /// private accesses. A private access to a page the guest has not validated reaches the guest as #VC 0x404
    /// (<paramref name="notValidated"/>) instead.
    /// </remarks>
    public abstract PageFaultErrorCode CheckGuestAccess(
        kvm_pfn_t pfn, uint asid, gfn_t gfn, bool isPrivate, bool write, PgLevel nptLevel, out bool notValidated);

    /// <summary>
    /// The RMP check of a host write to <paramref name="pfn"/> through a host mapping of <paramref name="hostLevel"/>:
    /// a #PF with the RMP bit (31) when any page the mapping covers is assigned, else none (kernel-domain.md 4.5).
    /// Host reads are never RMP-faulted. With an RMPOPT summary (<see cref="EnableRmpOpt"/>) a write to an optimised
    /// 1 GiB region skips the check (RMPOPT series, 2026; docs/rmpopt.md); either way the write is counted there.
    /// </summary>
    public abstract PageFaultErrorCode CheckHostWrite(kvm_pfn_t pfn, PgLevel hostLevel);

    /// <summary>Disposes the store.</summary>
    /// <remarks>
    /// Later calls do nothing. The table then covers no pages, so every instruction and check, which all start by
    /// checking the pfn against the table's size, throws <see cref="ObjectDisposedException"/> from that check's slow
    /// path: the hot lookups pay nothing for it.
    /// </remarks>
    public void Dispose()
    {
        _pages = 0;
        _store.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// True when every page of [<paramref name="pfn"/>, + <paramref name="count"/>) is assigned to
    /// <paramref name="asid"/> at gfn <paramref name="gfn"/> + i. Not an instruction: whole-VM checks use it to pass a
    /// run of private 4K mappings at once, and look page by page when it says false. A true answer counts the
    /// <paramref name="count"/> lookups the page-by-page check would have made.
    /// </summary>
    internal abstract bool IsGuestRun(kvm_pfn_t pfn, ulong count, uint asid, gfn_t gfn);

    /// <summary>
    /// Over [<paramref name="pfn"/>, + <paramref name="count"/>): the entries assigned to <paramref name="asid"/> that
    /// are 2M heads, and those that are 4K entries outside 2M entries (not counted as lookups).
    /// </summary>
    internal abstract void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K);

    /// <summary>
    /// <see cref="CountGuestEntries(kvm_pfn_t, ulong, uint, ref long, ref long)"/> for one of many short runs in no
    /// pfn order: each region's entries of the ASID are read once into <paramref name="cache"/> (created by
    /// <see cref="CreateGuestMaskCache"/> for the same ASID; null: run by run); same counts.
    /// </summary>
    internal abstract void CountGuestEntries(kvm_pfn_t pfn, ulong count, uint asid, ref long heads2M, ref long entries4K, GuestMaskCache? cache);

    /// <summary>A cache for <see cref="CountGuestEntries(kvm_pfn_t, ulong, uint, ref long, ref long, GuestMaskCache?)"/>, valid while the table does not change.</summary>
    internal GuestMaskCache CreateGuestMaskCache(uint asid) => new(_pages, asid);

    /// <summary>
    /// True when every page of [<paramref name="first"/>, + <paramref name="count"/>) is in the table, hypervisor-owned
    /// and not in use, so that a 4K RMPUPDATE to private of each succeeds. Not an instruction, and not counted: the
    /// model's test of the pages a run of faults is about to take.
    /// </summary>
    internal abstract bool IsHypervisorOwnedRun(kvm_pfn_t first, ulong count);

    /// <summary>
    /// <see cref="Lookup"/> of each page of <paramref name="pages"/>, counted as that many lookups: true when none is
    /// assigned (then each lookup would have said "shared, 4K").
    /// </summary>
    internal abstract bool LookupRunUnassigned(ReadOnlySpan<PfnRange> pages);

    /// <summary>
    /// RMPUPDATE to private of each page of <paramref name="pages"/>, in order, as a 4K entry of
    /// <paramref name="asid"/> at gpa (<paramref name="gfn"/> + i) &lt;&lt; 12 for the i-th page: the same entries,
    /// counters and results as <see cref="RmpUpdate"/> page by page. Returns how many succeeded.
    /// </summary>
    internal abstract ulong RmpUpdateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn);

    /// <summary>
    /// The guest's 4K PVALIDATE (validate) of each page of <paramref name="pages"/> at gfn <paramref name="gfn"/> + i
    /// by <paramref name="asid"/>, for a leading part of the run where each would simply succeed: sets their validated
    /// bits and counts them as <see cref="Pvalidate"/> does. Returns how many were done; the caller executes the rest
    /// one by one.
    /// </summary>
    internal abstract ulong PvalidateRun4K(ReadOnlySpan<PfnRange> pages, uint asid, gfn_t gfn);

    /// <summary>True when a page of [<paramref name="first"/>, + <paramref name="count"/>) is marked in use.</summary>
    private protected bool AnyInUse(ulong first, ulong count)
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

    /// <summary>Counts an #NPF the checks raise and returns its code.</summary>
    private protected PageFaultErrorCode RaiseNpf(PageFaultErrorCode code)
    {
        _counters.NestedPageFaults++;
        return code;
    }

    /// <summary>Throws unless <paramref name="p"/> is in the table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected void Check(ulong p)
    {
        if (p >= _pages)
        {
            ThrowOutOfRange(p);
        }
    }

    /// <summary>The exception of an out-of-range pfn.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private protected void ThrowOutOfRange(ulong p)
    {
        if (_pages == 0)
        {
            throw Memory.Disposal.Exception(this); // a live table covers at least one page; a disposed one covers none
        }

        throw new ArgumentOutOfRangeException(nameof(p), $"pfn 0x{p:x} is outside the RMP, which covers pfns 0..0x{_pages - 1:x}.");
    }
}
