using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

/// <summary>
/// Hands out zeroed 4 KiB blocks carved from 2 MiB huge-page-backed slabs, with an intrusive free list. Page-table
/// nodes allocated one by one land on scattered pages and cost a TLB miss each on a random walk; slabs keep 512 of
/// them behind one huge-page TLB entry.
/// </summary>
/// <remarks>Not thread-safe. Slabs are released only by <see cref="Dispose"/>. Allocates no managed memory per block.</remarks>
public sealed unsafe class PageSlab : IDisposable
{
    private const int BlockSize = 4096;
    private const int BlocksPerSlab = HugePages.Size / BlockSize;

    private void** _slabs;
    private int _slabCount;
    private int _slabCapacity;
    private byte* _current;
    private int _usedInCurrent = BlocksPerSlab;
    private void* _free;

    /// <summary>Blocks handed out and not returned.</summary>
    public long LiveBlocks { get; private set; }

    /// <summary>Bytes of slab memory held.</summary>
    public long Bytes => (long)_slabCount * HugePages.Size;

    /// <summary>A zeroed 4 KiB block, 4 KiB-aligned.</summary>
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
            NewSlab();
        }

        return _current + ((long)_usedInCurrent++ * BlockSize);
    }

    /// <summary>Returns a block for reuse.</summary>
    public void Free(void* block)
    {
        LiveBlocks--;
        *(void**)block = _free;
        _free = block;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        for (int i = 0; i < _slabCount; i++)
        {
            NativeMemory.Free(_slabs[i]);
        }

        NativeMemory.Free(_slabs);
        _slabs = null;
        _slabCount = 0;
        _free = null;
        _usedInCurrent = BlocksPerSlab;
    }

    private void NewSlab()
    {
        if (_slabCount == _slabCapacity)
        {
            _slabCapacity = Math.Max(16, _slabCapacity * 2);
            _slabs = (void**)NativeMemory.Realloc(_slabs, (nuint)(_slabCapacity * sizeof(void*)));
        }

        // Over-allocate by one huge page so the slab can start on a 2 MiB boundary; calloc's large blocks are fresh
        // zero pages from the kernel.
        void* raw = NativeMemory.AllocZeroed((nuint)(2 * HugePages.Size));
        _slabs[_slabCount++] = raw;
        _current = (byte*)(((nuint)raw + HugePages.Size - 1) & ~(nuint)(HugePages.Size - 1));
        HugePages.Advise(_current, HugePages.Size);
        _usedInCurrent = 0;
    }
}
