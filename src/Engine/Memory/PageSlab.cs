using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

/// <summary>
/// Hands out zeroed 4 KiB blocks carved from 2 MiB huge-page-backed slabs (<see cref="NativeBuffer"/> with
/// <c>hugePages</c>), with an intrusive free list. Page-table nodes allocated one by one land on scattered pages and
/// cost a TLB miss each on a random walk; slabs keep 512 of them behind one huge-page TLB entry.
/// </summary>
/// <remarks>
/// Not thread-safe. Slabs are released only by <see cref="Dispose"/>; a new slab is the only allocation. Each slab is a
/// <see cref="NativeBuffer"/>, counted in <see cref="NativeBuffer.LiveBytes"/> and finalized if leaked.
/// </remarks>
public sealed unsafe class PageSlab : IDisposable
{
    private const int BlockSize = 4096;
    private const int BlocksPerSlab = HugePages.Size / BlockSize;

    private readonly List<NativeBuffer> _slabs = [];
    private byte* _current;
    private int _usedInCurrent = BlocksPerSlab;
    private void* _free;
    private bool _disposed;

    /// <summary>Blocks handed out and not returned.</summary>
    public long LiveBlocks { get; private set; }

    /// <summary>Bytes of slab memory held.</summary>
    public long Bytes => (long)_slabs.Count * HugePages.Size;

    /// <summary>A zeroed 4 KiB block, 4 KiB-aligned.</summary>
    /// <exception cref="ObjectDisposedException">The slab was disposed.</exception>
    public void* Allocate()
    {
        LiveBlocks++;
        if (_free != null)
        {
            void* block = _free;
            _free = *(void**)block;
            NativeMemory.Clear(block, BlockSize);
            return block;
        }

        if (_usedInCurrent == BlocksPerSlab)
        {
            // Dispose empties the free list and fills the current slab, so a disposed slab always lands here.
            if (_disposed)
            {
                LiveBlocks--;
                throw Disposal.Exception(this);
            }

            var slab = new NativeBuffer(HugePages.Size, HugePages.Size, hugePages: true);
            _slabs.Add(slab);
            _current = (byte*)slab.Pointer;
            _usedInCurrent = 0;
        }

        return _current + ((long)_usedInCurrent++ * BlockSize);
    }

    /// <summary>Returns a block for reuse.</summary>
    /// <exception cref="ObjectDisposedException">The slab was disposed (the block's memory is gone).</exception>
    public void Free(void* block)
    {
        if (_disposed)
        {
            throw Disposal.Exception(this);
        }

        LiveBlocks--;
        *(void**)block = _free;
        _free = block;
    }

    /// <summary>Frees every slab.</summary>
    /// <remarks>
    /// Disposes every slab, so every block handed out is gone. Later calls do nothing; afterwards
    /// <see cref="Allocate"/> and <see cref="Free"/> throw <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        _disposed = true;
        foreach (var slab in _slabs)
        {
            slab.Dispose();
        }

        _slabs.Clear();
        _free = null;
        _usedInCurrent = BlocksPerSlab;
    }
}
