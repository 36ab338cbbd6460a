namespace FastRmp.Engine.Allocation;

public sealed partial class BuddyAllocator
{
    /// <summary>Free blocks of one order (one column of /proc/buddyinfo).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="order"/> is outside 0..<see cref="MaxOrder"/>.</exception>
    public long FreeBlocks(int order)
    {
        if (IsBadOrder(order))
        {
            ThrowOrderOutOfRange(nameof(FreeBlocks), order);
        }

        return State(order).FreeBlocks;
    }

    /// <summary>Writes the free-block count of every order 0..<see cref="MaxOrder"/>, like a /proc/buddyinfo line.</summary>
    /// <returns>The number of orders written (<see cref="MaxOrder"/> + 1).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="MaxOrder"/> + 1.</exception>
    public int GetBuddyInfo(Span<long> destination)
    {
        if (destination.Length <= _maxOrder)
        {
            throw new ArgumentException($"Needs {_maxOrder + 1} elements, got {destination.Length}.", nameof(destination));
        }

        for (int k = 0; k <= _maxOrder; k++)
        {
            destination[k] = State(k).FreeBlocks;
        }

        return _maxOrder + 1;
    }

    /// <summary>The event counts of one order.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="order"/> is outside 0..<see cref="MaxOrder"/>.</exception>
    public BuddyOrderCounters GetCounters(int order)
    {
        if (IsBadOrder(order))
        {
            ThrowOrderOutOfRange(nameof(GetCounters), order);
        }

        return State(order).Counters;
    }

    /// <summary>
    /// The kernel's external fragmentation index for an allocation of 2^<paramref name="order"/> pages, in
    /// thousandths: -1000 when a free block of that order or larger exists (the allocation would succeed);
    /// otherwise 0..1000, towards 0 when a failure would be due to lack of memory and towards 1000 when it would
    /// be due to fragmentation; 0 when nothing is free.
    /// </summary>
    /// <remarks>
    /// Models <c>fill_contig_page_info</c> and <c>__fragmentation_index</c>, mm/vmstat.c, Linux 6.18 (read in the
    /// MAX_PAGE_ORDER tree; the formula is as Mel Gorman's 2010 compaction series added it; the value of
    /// /sys/kernel/debug/extfrag/extfrag_index), over this allocator's orders 0..MaxOrder instead of a zone's
    /// 0..MAX_PAGE_ORDER. With free_pages the free pages, free_blocks_total the free blocks of all orders and
    /// requested = 2^order, the index is 1000 - (1000 + free_pages * 1000 / requested) / free_blocks_total, in
    /// integer (truncating) division. The kernel warns and returns 0 for an order above its maximum; here that
    /// is an argument error.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="order"/> is outside 0..<see cref="MaxOrder"/>.</exception>
    public int FragmentationIndex(int order)
    {
        if (IsBadOrder(order))
        {
            ThrowOrderOutOfRange(nameof(FragmentationIndex), order);
        }

        ulong freePages = 0;
        ulong freeBlocksTotal = 0;
        ulong freeBlocksSuitable = 0;
        for (int k = 0; k <= _maxOrder; k++)
        {
            ulong blocks = (ulong)State(k).FreeBlocks;
            freeBlocksTotal += blocks;
            freePages += blocks << k;
            if (k >= order)
            {
                freeBlocksSuitable += blocks << (k - order);
            }
        }

        if (freeBlocksTotal == 0)
        {
            return 0;
        }

        if (freeBlocksSuitable != 0)
        {
            return -1000;
        }

        ulong requested = 1UL << order;
        return (int)(1000 - (long)((1000 + (freePages * 1000 / requested)) / freeBlocksTotal));
    }
}
