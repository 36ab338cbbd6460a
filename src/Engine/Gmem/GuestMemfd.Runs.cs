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
    /// Starts loading the page-cache entry that get_pfn will read for <paramref name="gfn"/> through
    /// <paramref name="slot"/> (a hint: nothing is checked or changed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Prefetch(ref kvm_memory_slot slot, gfn_t gfn)
    {
        ulong index = gfn.Value - slot.base_gfn.Value + slot.gmem.pgoff;
        if (!Sse.IsSupported || index >= Pages)
        {
            return;
        }

        ulong* chunk = _chunks[index >> ChunkShift];
        if (chunk != null)
        {
            Sse.Prefetch0(chunk + (index & ((1UL << ChunkShift) - 1)));
        }
    }

    /// <summary>
    /// Every live folio, as <see cref="ForEachFolio"/> visits them (in index order), grouped into runs that are
    /// contiguous in the file and in host memory: with 4 KiB folios allocated in address order a 2 MiB chunk of
    /// the page cache is a handful of runs instead of 262 144 delegate calls.
    /// </summary>
    internal void ForEachFolioRun<TVisitor>(ref TVisitor visitor) where TVisitor : struct, IFolioRunVisitor
    {
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
                index++;
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
}
