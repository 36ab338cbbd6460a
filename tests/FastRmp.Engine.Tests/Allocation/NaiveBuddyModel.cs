namespace FastRmp.Engine.Tests.Allocation;

/// <summary>
/// The obvious buddy allocator: one sorted set of free block start pfns per order. Slow and allocating, written
/// to be easy to believe; the reference for property tests and the baseline for benchmarks.
/// </summary>
internal sealed class NaiveBuddyModel
{
    private readonly SortedSet<ulong>[] _free;

    public NaiveBuddyModel(ulong basePfn, ulong pageCount, int maxOrder)
    {
        BasePfn = basePfn;
        EndPfn = basePfn + pageCount;
        MaxOrder = maxOrder;
        _free = new SortedSet<ulong>[maxOrder + 1];
        for (int k = 0; k <= maxOrder; k++)
        {
            _free[k] = [];
        }

        for (ulong pfn = basePfn; pfn < EndPfn;)
        {
            int order = maxOrder;
            while (order > 0 && ((pfn & ((1UL << order) - 1)) != 0 || pfn + (1UL << order) > EndPfn))
            {
                order--;
            }

            _free[order].Add(pfn);
            FreePages += 1UL << order;
            pfn += 1UL << order;
        }
    }

    public ulong BasePfn { get; }

    public ulong EndPfn { get; }

    public int MaxOrder { get; }

    public ulong FreePages { get; private set; }

    public long FreeBlocks(int order) => _free[order].Count;

    public bool CanAllocate(int order)
    {
        for (int k = order; k <= MaxOrder; k++)
        {
            if (_free[k].Count != 0)
            {
                return true;
            }
        }

        return false;
    }

    public bool TryAllocate(int order, out ulong pfn)
    {
        for (int k = order; k <= MaxOrder; k++)
        {
            if (_free[k].Count != 0)
            {
                pfn = _free[k].Min;
                _free[k].Remove(pfn);
                for (int j = k; j > order; j--)
                {
                    _free[j - 1].Add(pfn + (1UL << (j - 1)));
                }

                FreePages -= 1UL << order;
                return true;
            }
        }

        pfn = 0;
        return false;
    }

    /// <summary>Takes the aligned block at pfn if it is entirely free; false (and no change) otherwise.</summary>
    public bool TryClaim(ulong pfn, int order)
    {
        for (int k = order; k <= MaxOrder; k++)
        {
            ulong start = pfn & ~((1UL << k) - 1);
            if (_free[k].Remove(start))
            {
                for (int j = k; j > order; j--)
                {
                    ulong half = 1UL << (j - 1);
                    ulong left = pfn & ~((1UL << j) - 1);
                    _free[j - 1].Add((pfn & half) != 0 ? left : left + half);
                }

                FreePages -= 1UL << order;
                return true;
            }
        }

        return false;
    }

    public void Free(ulong pfn, int order)
    {
        FreePages += 1UL << order;
        while (order < MaxOrder && _free[order].Remove(pfn ^ (1UL << order)))
        {
            pfn &= ~(1UL << order);
            order++;
        }

        _free[order].Add(pfn);
    }

    /// <summary>True when [pfn, pfn + 2^order) overlaps no free block.</summary>
    public bool IsFullyAllocated(ulong pfn, int order)
    {
        ulong end = pfn + (1UL << order);
        for (int k = 0; k <= MaxOrder; k++)
        {
            ulong size = 1UL << k;
            ulong from = pfn >= size ? pfn - size + 1 : 0;
            if (_free[k].GetViewBetween(from, end - 1).Count != 0)
            {
                return false;
            }
        }

        return true;
    }
}
