using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class CompactRmpStore
{
    private const int PrefetchDistance = 16;

    /// <inheritdoc />
    /// <remarks>Touches the assigned bitmap and the huge bitmap only.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn)
        => RmpLookup.FromBits((Assigned[pfn >> 6] >> (int)pfn) & 1, (_huge[pfn >> 15] >> (int)(pfn >> 9)) & 1);

    /// <inheritdoc />
    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(results.Length, pfns.Length, nameof(results));
        ulong* assigned = _assigned;
        ulong* huge = _huge;
        int n = pfns.Length;
        ref ulong first = ref MemoryMarshal.GetReference(pfns);
        ref RmpLookup output = ref MemoryMarshal.GetReference(results);
        bool prefetch = Sse.IsSupported;
        for (int i = 0; i < n; i++)
        {
            if (prefetch && i + PrefetchDistance < n)
            {
                Sse.Prefetch0(assigned + (Unsafe.Add(ref first, i + PrefetchDistance) >> 6));
            }

            ulong pfn = Unsafe.Add(ref first, i);
            Unsafe.Add(ref output, i) = RmpLookup.FromBits((assigned[pfn >> 6] >> (int)pfn) & 1, (huge[pfn >> 15] >> (int)(pfn >> 9)) & 1);
        }
    }
}
