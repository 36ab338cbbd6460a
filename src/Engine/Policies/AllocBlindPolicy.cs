using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Policies;

/// <summary>
/// <c>alloc-blind</c>: the maintainer's July-2023 proposal (Sean Christopherson, ZLqVdvsF11Ddo7Dq@google.com;
/// peers.md 1.1). The whole folio becomes private when guest_memfd allocates it, blind (no RMP lookup first), and
/// shared again, blind, when it is freed; a separate hook clamps the NPT level at the RMP level.
/// </summary>
/// <remarks>
/// Two points the proposal left open, made executable here and counted: RMPUPDATE needs a GPA, which an allocation
/// has only through a binding (Roth's objection), so a folio allocated with no binding is converted at its first
/// get_pfn instead (<see cref="DeferredConversions"/>); and a blind 2M return to shared fails with FAIL_OVERLAP once
/// the entry was PSMASHed, so the free then returns the 512 entries one by one (<see cref="BlindFailures"/>).
/// Not thread-safe, as every <see cref="SnpPolicy"/>: it belongs to one VM and is called from its fault path.
/// </remarks>
public sealed class AllocBlindPolicy(RmpTable rmp, uint asid) : SnpPolicy(rmp, asid)
{
    /// <inheritdoc />
    public override string Name => "alloc-blind";

    /// <inheritdoc />
    public override GmemPrepareMode PrepareMode => GmemPrepareMode.OncePerFolio;

    /// <summary>Folios allocated without a binding, converted at first get_pfn instead.</summary>
    public long DeferredConversions { get; private set; }

    /// <summary>Blind RMPUPDATEs the hardware refused.</summary>
    public long BlindFailures { get; private set; }

    /// <summary>Blind conversion of the new folio to private, at its own size, with the GPA of its binding.</summary>
    public override void FolioAllocated(GuestMemfd file, ulong index, kvm_pfn_t pfn, int order)
    {
        if (!file.TryGfnAt(index, out var gfn))
        {
            DeferredConversions++;
            return;
        }

        ConvertBlind(gfn, pfn, order);
    }

    /// <summary>Only for folios whose conversion was deferred: the allocation already converted the others.</summary>
    public override int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order)
    {
        if (DeferredConversions == 0 || Rmp.Store.IsAssigned(pfn.Value))
        {
            return 0; // not a lookup KVM makes: the model asks whether this folio was one of the deferred ones
        }

        DeferredConversions--;
        ConvertBlind(gfn, pfn, order);
        return 0;
    }

    /// <inheritdoc />
    public override bool PreparesFreshRuns4K => true;

    /// <summary>
    /// Per fresh 4 KiB folio (bound, so never deferred), the allocation converts the page blind with a 4K RMPUPDATE
    /// at its gfn, and the first get_pfn's prepare finds nothing left to do (no lookup).
    /// </summary>
    public override void PrepareFreshRun4K(GuestMemfd file, ulong index, gfn_t gfn, ReadOnlySpan<PfnRange> pages)
        => ConvertFreshRun4K(gfn, pages, lookUp: false);

    /// <summary>Blind return to shared of the freed range: 2M where the range covers a 2 MiB block, else 4K.</summary>
    public override void Invalidate(kvm_pfn_t start, kvm_pfn_t end)
    {
        for (ulong p = start.Value; p < end.Value;)
        {
            bool whole2M = (p & 511) == 0 && p + 512 <= end.Value;
            if (whole2M && UpdateWithRetry(new kvm_pfn_t(p), new rmp_state { pagesize = 1 }) == RmpUpdateResult.Success)
            {
                p += 512;
                continue;
            }

            if (whole2M)
            {
                BlindFailures++;
            }

            ulong stop = whole2M ? p + 512 : p + 1;
            for (; p < stop; p++)
            {
                if (UpdateWithRetry(new kvm_pfn_t(p), new rmp_state()) != RmpUpdateResult.Success && Rmp.Store.IsAssigned(p))
                {
                    BlindFailures++; // e.g. FAIL_OVERLAP: a 4K page inside a 2M entry, freed while still private
                }
            }
        }
    }

    private void ConvertBlind(gfn_t gfn, kvm_pfn_t pfn, int order)
    {
        ulong pages = 1UL << order;
        ulong step = order >= 9 ? 512UL : 1;
        for (ulong i = 0; i < pages; i += step)
        {
            var state = new rmp_state { assigned = 1, pagesize = order >= 9 ? (byte)1 : (byte)0, asid = Asid, gpa = (gfn + i).Gpa.Value };
            if (UpdateWithRetry(pfn + i, state) != RmpUpdateResult.Success)
            {
                BlindFailures++;
            }
        }
    }
}
