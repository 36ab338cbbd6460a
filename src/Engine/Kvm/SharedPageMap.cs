using FastRmp.Engine.Memory;
using FastRmp.Interop;

namespace FastRmp.Engine.Kvm;

/// <summary>
/// The host pages that back a VM's shared gfns (the VMM's anonymous memory, allocated on first touch): an
/// open-addressing hash map gfn -> pfn in unmanaged memory (linear probing, a power-of-two table at most 3/4 full,
/// rehashed into a table twice the size when it fills). A replay that touches new shared pages for its whole length
/// allocates nothing on the GC heap (a managed dictionary grew, and collected, in the middle of long replays), and
/// scattered shared pages cost 16 bytes each over a table twice their number, not a table per region they touch.
/// </summary>
/// <remarks>Not thread-safe. A slot is a pair (gfn + 1, pfn); a key of 0 is an empty slot.</remarks>
internal sealed unsafe class SharedPageMap : IDisposable
{
    private const long InitialSlots = 1024;
    private NativeArray<ulong> _slots = new(2 * InitialSlots);
    private ulong _mask = InitialSlots - 1;

    /// <summary>Pages mapped.</summary>
    public long Count { get; private set; }

    /// <summary>The pfn backing <paramref name="gfn"/>, if any.</summary>
    public bool TryGet(gfn_t gfn, out kvm_pfn_t pfn)
    {
        ulong* slots = _slots.Pointer;
        ulong key = gfn.Value + 1;
        for (ulong i = Hash(key) & _mask; ; i = (i + 1) & _mask)
        {
            ulong k = slots[2 * i];
            if (k == key)
            {
                pfn = new kvm_pfn_t(slots[(2 * i) + 1]);
                return true;
            }

            if (k == 0)
            {
                pfn = default;
                return false;
            }
        }
    }

    /// <summary>Records that <paramref name="pfn"/> backs <paramref name="gfn"/>, which had no page.</summary>
    /// <exception cref="InvalidOperationException">The gfn already has a page.</exception>
    public void Add(gfn_t gfn, kvm_pfn_t pfn)
    {
        if ((ulong)(Count + 1) * 4 > (_mask + 1) * 3)
        {
            Grow();
        }

        if (!Insert(_slots.Pointer, _mask, gfn.Value + 1, pfn.Value))
        {
            throw new InvalidOperationException($"gfn {gfn} already has a shared page.");
        }

        Count++;
    }

    /// <summary>Calls <paramref name="visit"/> for every mapped page (in no particular order).</summary>
    public void ForEach(Action<gfn_t, kvm_pfn_t> visit)
    {
        ulong* slots = _slots.Pointer;
        for (ulong i = 0; i <= _mask; i++)
        {
            if (slots[2 * i] != 0)
            {
                visit(new gfn_t(slots[2 * i] - 1), new kvm_pfn_t(slots[(2 * i) + 1]));
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();

    // Fibonacci hashing: gfns come in runs and strides; the high bits of the product spread them.
    private static ulong Hash(ulong key) => (key * 0x9E37_79B9_7F4A_7C15UL) >> 20;

    private static bool Insert(ulong* slots, ulong mask, ulong key, ulong value)
    {
        for (ulong i = Hash(key) & mask; ; i = (i + 1) & mask)
        {
            if (slots[2 * i] == key)
            {
                return false;
            }

            if (slots[2 * i] == 0)
            {
                slots[2 * i] = key;
                slots[(2 * i) + 1] = value;
                return true;
            }
        }
    }

    private void Grow()
    {
        ulong newMask = (2 * (_mask + 1)) - 1;
        var bigger = new NativeArray<ulong>(2 * (long)(newMask + 1));
        ulong* from = _slots.Pointer;
        ulong* to = bigger.Pointer;
        for (ulong i = 0; i <= _mask; i++)
        {
            if (from[2 * i] != 0)
            {
                Insert(to, newMask, from[2 * i], from[(2 * i) + 1]);
            }
        }

        _slots.Dispose();
        _slots = bigger;
        _mask = newMask;
    }
}
