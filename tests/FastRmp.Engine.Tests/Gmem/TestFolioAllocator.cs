using FastRmp.Engine.Allocation;
using FastRmp.Engine.Gmem;
using FastRmp.Interop;

namespace FastRmp.Engine.Tests.Gmem;

/// <summary>A checked bump allocator for guest_memfd tests: every live block is tracked; bad frees throw.</summary>
internal sealed class TestFolioAllocator(ulong pages) : IFolioAllocator
{
    private readonly Dictionary<ulong, int> _live = [];
    private ulong _next = 0x1000;

    public IReadOnlyDictionary<ulong, int> Live => _live;

    public bool TryAllocate(int order, out kvm_pfn_t pfn)
    {
        ulong size = 1UL << order;
        ulong start = (_next + size - 1) & ~(size - 1);
        if (start + size > pages)
        {
            pfn = default;
            return false;
        }

        _next = start + size;
        _live.Add(start, order);
        pfn = new kvm_pfn_t(start);
        return true;
    }

    public void Free(kvm_pfn_t pfn, int order)
    {
        if (!_live.Remove(pfn.Value, out int live) || live != order)
        {
            throw new InvalidOperationException($"bad free of pfn 0x{pfn.Value:x} order {order}");
        }
    }

    public bool IsFree(kvm_pfn_t pfn)
    {
        foreach (var (start, order) in _live)
        {
            if (pfn.Value - start < 1UL << order)
            {
                return false;
            }
        }

        return true;
    }

    public void Split(kvm_pfn_t pfn, int order)
    {
        Free(pfn, order);
        for (ulong i = 0; i < 1UL << order; i++)
        {
            _live.Add(pfn.Value + i, 0);
        }
    }
}

/// <summary>Records the hooks guest_memfd calls.</summary>
internal sealed class RecordingArch : IGmemArch, IGmemMmu
{
    public List<(gfn_t Gfn, kvm_pfn_t Pfn, int Order)> Prepared { get; } = [];

    public List<(kvm_pfn_t Start, kvm_pfn_t End)> Invalidated { get; } = [];

    public List<(int Slot, ulong Pgoff, ulong Npages)> Zapped { get; } = [];

    public int PrepareResult { get; set; }

    public int Prepare(GuestMemfd file, gfn_t gfn, kvm_pfn_t pfn, int order)
    {
        Prepared.Add((gfn, pfn, order));
        return PrepareResult;
    }

    public void Invalidate(kvm_pfn_t start, kvm_pfn_t end) => Invalidated.Add((start, end));

    public void Invalidate(int slot, ulong pgoff, ulong npages) => Zapped.Add((slot, pgoff, npages));

    public void InvalidateEnd()
    {
    }
}
