using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

public sealed unsafe partial class RawRmpStore
{
    private const int PrefetchDistance = 16;

    /// <inheritdoc />
    /// <remarks>Reads two entries: the page's (assigned) and the 2 MiB-aligned one (pagesize), as sev.c does.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn)
    {
        rmpentry_raw* entries = Table;
        return RawEntries.Lookup(entries + pfn, entries + (pfn & ~511UL));
    }

    /// <inheritdoc />
    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(results.Length, pfns.Length, nameof(results));
        rmpentry_raw* entries = Table;
        int n = pfns.Length;
        ref ulong first = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(pfns);
        ref RmpLookup output = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(results);
        bool prefetch = Sse.IsSupported;
        for (int i = 0; i < n; i++)
        {
            if (prefetch && i + PrefetchDistance < n)
            {
                ulong ahead = Unsafe.Add(ref first, i + PrefetchDistance);
                Sse.Prefetch0(entries + ahead);
                Sse.Prefetch0(entries + (ahead & ~511UL));
            }

            ulong pfn = Unsafe.Add(ref first, i);
            Unsafe.Add(ref output, i) = RawEntries.Lookup(entries + pfn, entries + (pfn & ~511UL));
        }
    }
}
