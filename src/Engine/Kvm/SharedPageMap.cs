using FastRmp.Engine.Memory;
using FastRmp.Interop;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// The host pages that back a VM's shared gfns (the VMM's anonymous memory, allocated on first touch): gfn -> pfn in
/// unmanaged chunks of 2^18 gfns (1 GiB of guest memory, 2 MiB of entries, an anonymous mapping whose untouched
/// pages cost nothing), so a replay that touches new shared pages for its whole length allocates nothing on the GC
/// heap (a managed dictionary grew, and collected, in the middle of long replays).
/// </summary>
/// <remarks>Not thread-safe. An entry holds pfn + 1; 0 means no page yet.</remarks>
internal sealed unsafe class SharedPageMap : IDisposable
{
    private const int ChunkShift = 18;
    private const ulong ChunkMask = (1UL << ChunkShift) - 1;
    private readonly NativeChunkTable _table;
    private readonly ulong _chunks;

    /// <summary>A map for a guest physical address space of <paramref name="addressBits"/> bits.</summary>
    public SharedPageMap(int addressBits = 48)
    {
        _chunks = 1UL << (addressBits - 12 - ChunkShift);
        _table = new NativeChunkTable((long)_chunks, (1L << ChunkShift) * sizeof(ulong));
    }

    /// <summary>Pages mapped.</summary>
    public long Count { get; private set; }

    /// <summary>The pfn backing <paramref name="gfn"/>, if any.</summary>
    public bool TryGet(gfn_t gfn, out kvm_pfn_t pfn)
    {
        ulong chunk = gfn.Value >> ChunkShift;
        var entries = chunk < _chunks ? (ulong*)_table.Slots[chunk] : null;
        ulong entry = entries == null ? 0 : entries[gfn.Value & ChunkMask];
        pfn = new kvm_pfn_t(entry - 1);
        return entry != 0;
    }

    /// <summary>Records that <paramref name="pfn"/> backs <paramref name="gfn"/>, which had no page.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The gfn is outside the address space.</exception>
    public void Add(gfn_t gfn, kvm_pfn_t pfn)
    {
        ulong chunk = gfn.Value >> ChunkShift;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(chunk, _chunks, nameof(gfn));
        var entries = (ulong*)_table.Slots[chunk];
        if (entries == null)
        {
            entries = (ulong*)_table.Allocate((long)chunk);
        }

        entries[gfn.Value & ChunkMask] = pfn.Value + 1;
        Count++;
    }

    /// <summary>Calls <paramref name="visit"/> for every mapped page, by gfn.</summary>
    public void ForEach(Action<gfn_t, kvm_pfn_t> visit)
    {
        void** slots = _table.Slots;
        for (ulong chunk = 0; chunk < _chunks; chunk++)
        {
            var entries = (ulong*)slots[chunk];
            if (entries == null)
            {
                continue;
            }

            for (ulong i = 0; i <= ChunkMask; i++)
            {
                if (entries[i] != 0)
                {
                    visit(new gfn_t((chunk << ChunkShift) | i), new kvm_pfn_t(entries[i] - 1));
                }
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _table.Dispose();
}
