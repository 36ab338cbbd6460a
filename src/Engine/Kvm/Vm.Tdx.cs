using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Kvm;

public sealed partial class Vm
{
    /// <summary>
    /// Models <c>kvm_zap_gfn_range</c> (arch/x86/kvm/mmu/mmu.c, 6.18) over [<paramref name="start"/>,
    /// <paramref name="end"/>): every leaf goes, private ones through the vendor's own tables first (TDX: BLOCK, TRACK,
    /// REMOVE). Returns the SPTEs zapped (also counted in <see cref="VmCounters.Zapped"/>).
    /// </summary>
    public long ZapGfnRange(gfn_t start, gfn_t end)
    {
        ThrowIfDisposed();
        long zapped = ZapRange(start, end);
        Counters.Zapped += zapped;
        return zapped;
    }

    /// <summary>
    /// The TDX huge-page series' answer to a guest ACCEPT at <paramref name="acceptLevel"/> that met a larger private
    /// leaf or no leaf (<c>tdx_handle_ept_violation</c> with the accept level, RFC v2 2025-08-07, patches 13-14): sets
    /// GUEST_INHIBIT in the slot's lpage_info at every level above the accept level, so that KVM never maps the gfn
    /// larger again, and splits a private 2 MiB leaf that maps it (the vendor demotes its own leaf first). Returns true
    /// when a leaf was split. The caller then handles the fault as usual.
    /// </summary>
    public bool InhibitAboveAcceptLevel(gfn_t gfn, PgLevel acceptLevel)
    {
        ThrowIfDisposed();
        int slotIndex = Memslots.Find(0, gfn);
        if (slotIndex >= 0)
        {
            for (var level = acceptLevel + 1; level <= PgLevel.Level1G; level++)
            {
                ref var info = ref Memslots.LpageInfo(slotIndex, level, gfn);
                info.disallow_lpage = (int)((uint)info.disallow_lpage | Mmu.KVM_LPAGE_GUEST_INHIBIT_FLAG);
            }
        }

        if (acceptLevel != PgLevel.Level4K || Arch is not { HasExternalPageTables: true } external)
        {
            return false;
        }

        var kvm = HookContext();
        return SplitPrivate2M(external, ref kvm, gfn);
    }
}
