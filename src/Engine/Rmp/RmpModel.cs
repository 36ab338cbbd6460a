using System.Runtime.CompilerServices;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

/// <summary>Rules of FastRmp's RMP model shared by the stores (docs/rmp.md).</summary>
internal static class RmpModel
{
    /// <summary>
    /// The 4K entry that page <paramref name="index"/> (1..511) of a 2M entry exposes: the head's owner, immutable,
    /// validated and VMPL permissions, gpa = head gpa + index, pagesize 0, vmsa 0. PSMASH keeps exactly this
    /// (kernel-domain.md 4.4: "keeps validated and the other attributes ... contiguous GPAs").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static rmpentry_raw SubEntry(rmpentry_raw head, int index)
    {
        const ulong keep = ~((1UL << rmpentry_raw.PageSizeBit) | (1UL << rmpentry_raw.VmsaBit));
        return new rmpentry_raw { lo = (head.lo & keep) + ((ulong)index << rmpentry_raw.GpaShift), hi = head.hi };
    }
}
