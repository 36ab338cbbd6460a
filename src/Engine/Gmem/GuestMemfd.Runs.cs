using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastRmp.Interop;
using FastRmp.Interop.Kernel;

namespace FastRmp.Engine.Gmem;

/// <summary>Receives runs of folios from <see cref="GuestMemfd.ForEachFolioRun{TVisitor}"/> (a struct: no allocation, calls inlined).</summary>
internal interface IFolioRunVisitor
{
    /// <summary>
    /// <paramref name="folios"/> folios of <paramref name="order"/>, the first at file index <paramref name="index"/>
    /// with head pfn <paramref name="pfn"/>, each next one 2^order further in both the file and the host.
    /// </summary>
    void Run(ulong index, kvm_pfn_t pfn, int order, ulong folios);
}

public sealed unsafe partial class GuestMemfd
{
    /// <summary>
    /// The address of the page-cache entry that get_pfn will read for <paramref name="gfn"/> through
    /// <paramref name="slot"/>, or null when its chunk does not exist (a prefetch hint: nothing is checked or changed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void* EntryLine(ref kvm_memory_slot slot, gfn_t gfn)
    {
        ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
        if (index >= Pages)
        {
            return null;
        }

        ulong* chunk = _chunks[index >> ChunkShift];
        return chunk == null ? null : chunk + (index & ((1UL << ChunkShift) - 1));
    }

    /// <summary>Starts loading <see cref="EntryLine"/> (a hint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Prefetch(ref kvm_memory_slot slot, gfn_t gfn)
    {
        if (Sse.IsSupported && EntryLine(ref slot, gfn) is var line && line != null)
        {
            Sse.Prefetch0(line);
        }
    }

    /// <summary>
    /// Every live folio, as <see cref="ForEachFolio"/> visits them (in index order), grouped into runs that are
    /// contiguous in the file and in host memory: with 4 KiB folios allocated in address order a 2 MiB chunk of
    /// the page cache is a handful of runs instead of 262 144 delegate calls.
    /// </summary>
    internal void ForEachFolioRun<TVisitor>(ref TVisitor visitor) where TVisitor : struct, IFolioRunVisitor
    {
        ThrowIfFreed();
        const ulong mask = (1UL << ChunkShift) - 1;
        for (ulong index = 0; index < Pages;)
        {
            ulong* chunk = _chunks[index >> ChunkShift];
            if (chunk == null)
            {
                // A linear chunk is one run: what the loop below finds in the entries it stands for.
                ref var linear = ref _linear[index >> ChunkShift];
                if (linear.Count != 0)
                {
                    int linearOrder = EntryOrder(linear.Flags);
                    visitor.Run((index & ~mask) + linear.First, new kvm_pfn_t(linear.Pfn), linearOrder, linear.Count >> linearOrder);
                }

                index = ((index >> ChunkShift) + 1) << ChunkShift;
                continue;
            }

            ulong entry = chunk[index & mask];
            if ((entry & PresentBit) == 0)
            {
                index = NextPresent(chunk, index, Math.Min(Pages, ((index >> ChunkShift) + 1) << ChunkShift));
                continue;
            }

            int order = EntryOrder(entry);
            ulong size = 1UL << order;
            ulong pfn = entry >> PfnShift;
            ulong chunkEnd = Math.Min(Pages, ((index >> ChunkShift) + 1) << ChunkShift);
            ulong folios = 1;
            ulong next = index + size;
            for (; next < chunkEnd; next += size, folios++)
            {
                ulong e = chunk[next & mask];
                if ((e & PresentBit) == 0 || EntryOrder(e) != order || (e >> PfnShift) != pfn + (folios << order))
                {
                    break;
                }
            }

            visitor.Run(index, new kvm_pfn_t(pfn), order, folios);
            index = next;
        }
    }

    /// <summary>The first index in [<paramref name="index"/>, <paramref name="end"/>) (one chunk) whose entry is present, or <paramref name="end"/>; eight empty entries at a time.</summary>
    private static ulong NextPresent(ulong* chunk, ulong index, ulong end)
    {
        const ulong mask = (1UL << ChunkShift) - 1;
        var present = System.Runtime.Intrinsics.Vector256.Create(PresentBit);
        while (index + 8 <= end)
        {
            ulong* p = chunk + (index & mask);
            var any = (System.Runtime.Intrinsics.Vector256.Load(p) | System.Runtime.Intrinsics.Vector256.Load(p + 4)) & present;
            if (any != System.Runtime.Intrinsics.Vector256<ulong>.Zero)
            {
                break;
            }

            index += 8;
        }

        while (index < end && (chunk[index & mask] & PresentBit) == 0)
        {
            index++;
        }

        return index;
    }
}
