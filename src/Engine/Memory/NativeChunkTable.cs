namespace FastRmp.Engine.Memory;

/// <summary>
/// A table of <see cref="Count"/> pointers to equal chunks of zeroed unmanaged memory, each allocated on first use
/// and kept until the table goes: the two-level arrays of a guest_memfd's page cache and of a VM's memory attributes.
/// The pointer table and every chunk are <see cref="NativeBuffer"/>s, so their bytes count in
/// <see cref="NativeBuffer.LiveBytes"/> and a finalizer frees them if the owner forgets.
/// </summary>
/// <remarks>
/// Not thread-safe. Lookups read <see cref="Slots"/> directly (owners keep it in a field): slot i is null until
/// <see cref="Allocate"/>(i), then the chunk's address, which never moves.
/// </remarks>
public sealed unsafe class NativeChunkTable : IDisposable
{
    private readonly NativeBuffer _table;
    private readonly List<NativeBuffer> _chunks = [];
    private readonly int _chunkAlignment;
    private readonly bool _hugePages;
    private void** _slots;

    /// <summary>A table of <paramref name="count"/> empty slots for chunks of <paramref name="chunkBytes"/> bytes.</summary>
    /// <param name="count">Slots in the table.</param>
    /// <param name="chunkBytes">Bytes in each chunk.</param>
    /// <param name="chunkAlignment">Alignment of each chunk (a power of two).</param>
    /// <param name="hugePages">Back each chunk with transparent huge pages (see <see cref="NativeBuffer"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative count, a chunk size below 1, or a bad alignment.</exception>
    public NativeChunkTable(long count, long chunkBytes, int chunkAlignment = 64, bool hugePages = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        if (chunkAlignment <= 0 || (chunkAlignment & (chunkAlignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkAlignment), chunkAlignment, "The alignment must be a power of two.");
        }

        Count = count;
        ChunkBytes = chunkBytes;
        _chunkAlignment = chunkAlignment;
        _hugePages = hugePages;
        _table = new NativeBuffer(checked(count * sizeof(void*)));
        _slots = (void**)_table.Pointer;
    }

    /// <summary>Slots in the table.</summary>
    public long Count { get; }

    /// <summary>Bytes in each chunk.</summary>
    public long ChunkBytes { get; }

    /// <summary>Chunks allocated so far.</summary>
    public int AllocatedChunks => _chunks.Count;

    /// <summary>Bytes held: the pointer table and the chunks.</summary>
    public long Bytes => _table.Length + (_chunks.Count * ChunkBytes);

    /// <summary>The pointer table: <see cref="Count"/> slots, each null or a chunk.</summary>
    /// <exception cref="ObjectDisposedException">The table was disposed.</exception>
    public void** Slots
    {
        get
        {
            void** slots = _slots;
            if (slots == null)
            {
                throw Disposal.Exception(this);
            }

            return slots;
        }
    }

    /// <summary>Allocates the zeroed chunk of slot <paramref name="index"/>, stores it in the slot and returns it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the table.</exception>
    /// <exception cref="InvalidOperationException">The slot already has a chunk.</exception>
    /// <exception cref="ObjectDisposedException">The table was disposed.</exception>
    public void* Allocate(long index)
    {
        void** slots = Slots;
        if ((ulong)index >= (ulong)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The table has {Count} slots.");
        }

        if (slots[index] != null)
        {
            throw new InvalidOperationException($"Slot {index} already has a chunk.");
        }

        var chunk = new NativeBuffer(ChunkBytes, _chunkAlignment, _hugePages);
        _chunks.Add(chunk);
        return slots[index] = chunk.Pointer;
    }

    /// <summary>Frees the chunks and the table.</summary>
    /// <remarks>
    /// Disposes every chunk and the pointer table (their bytes leave <see cref="NativeBuffer.LiveBytes"/>). Later
    /// calls do nothing; afterwards <see cref="Slots"/> and <see cref="Allocate"/> throw
    /// <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        if (_slots == null)
        {
            return;
        }

        _slots = null;
        foreach (var chunk in _chunks)
        {
            chunk.Dispose();
        }

        _chunks.Clear();
        _table.Dispose();
    }
}
