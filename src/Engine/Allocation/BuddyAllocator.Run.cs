using System.Diagnostics;
using System.Numerics;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>
    /// Allocates up to <paramref name="pages"/> single pages exactly as that many <see cref="TryAllocate"/>(0) calls
    /// in a row would: the same pages in the same order, and afterwards the same free and split bitmaps, hints and
    /// counters. Stops early when memory runs out or before pages <paramref name="filter"/> refuses. The pages go to
    /// <paramref name="ranges"/> as ranges of consecutive pfns in allocation order (<paramref name="rangeCount"/> of
    /// them; the span must hold <paramref name="pages"/> ranges). Returns the number of pages allocated.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Each step looks at the block the next <see cref="TryAllocate"/>(0) would use: the order-0 hint if it is free,
    /// else the lowest free block of the smallest order f that has one (the hint when it is that order's only block).
    /// Every order below f is empty, so the calls that follow take that block's pages in address order: the first
    /// splits it down to its first page, leaving the upper halves free, and each later call takes the smallest free
    /// block, which is the next upper half (splitting it the same way when it is larger than a page). The step takes
    /// as many of the block's pages as are still wanted (all of them, or the first r) and writes the calls' combined
    /// effect at once (<see cref="Take"/>); only a block the filter refuses is taken page by page.
    /// </para>
    /// <para>Not a kernel function: the model's way of faulting in a run of 4 KiB folios at once.</para>
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public ulong TryAllocateRun<TFilter>(ulong pages, Span<PfnRange> ranges, out int rangeCount, ref TFilter filter)
        where TFilter : struct, IPfnRunFilter
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan((ulong)ranges.Length, pages, nameof(ranges));
        ulong done = 0;
        rangeCount = 0;
        while (done < pages)
        {
            int order;
            nuint index;
            ref OrderState single = ref State(0);
            if (IsFree(0, single.Hint))
            {
                order = 0;
                index = single.Hint;
            }
            else if (_nonEmptyOrders == 0)
            {
                break;
            }
            else
            {
                order = BitOperations.TrailingZeroCount(_nonEmptyOrders);
                ref OrderState from = ref State(order);
                index = from.FreeBlocks == 1 && IsFree(order, from.Hint) ? from.Hint : FindFirstFree(order);
            }

            ulong first = PfnOf(index, order);
            ulong take = Math.Min(1UL << order, pages - done);
            if (!filter.Accept(new kvm_pfn_t(first), take))
            {
                take = 1;
                if (!filter.Accept(new kvm_pfn_t(first), 1))
                {
                    break;
                }
            }

            Take(order, index, take);
            if (rangeCount > 0 && ranges[rangeCount - 1] is var previous && previous.First.Value + previous.Count == first)
            {
                ranges[rangeCount - 1] = previous with { Count = previous.Count + take };
            }
            else
            {
                ranges[rangeCount++] = new PfnRange(new kvm_pfn_t(first), take);
            }

            done += take;
        }

        return done;
    }

    /// <summary>
    /// The effect of <paramref name="pages"/> (1 to 2^order) <see cref="TryAllocate"/>(0) calls that take the first
    /// pages of the free block (<paramref name="order"/>, <paramref name="index"/>) while every lower order is empty.
    /// </summary>
    /// <remarks>
    /// Derived from the calls (the tests compare the two word for word): the block leaves its free list; every block of
    /// orders 1..order inside it that holds a taken page is split once (pages are taken in address order, and a block
    /// is split when its first page is taken), which is also what the split counters count; the untaken rest
    /// [pages, 2^order) is left free as the aligned blocks that cover it, largest possible at each step; order 0
    /// counts the allocations; and each lower order's hint is the last block of that order the calls set free: the
    /// upper half of the last block split one order up, the one that holds the last page taken.
    /// </remarks>
    private void Take(int order, nuint index, ulong pages)
    {
        Debug.Assert(pages >= 1 && pages <= 1UL << order, "a take is 1 to 2^order pages");
        ClearFree(order, index);
        ulong last = pages - 1;
        for (int k = order; k >= 1; k--)
        {
            ulong blocks = (last >> k) + 1;
            SetBits(Split(k), index << (order - k), blocks);
            State(k).Counters.Splits += (long)blocks;
        }

        for (ulong at = pages, end = 1UL << order; at < end;)
        {
            int k = BitOperations.TrailingZeroCount(at);
            SetFree(k, (index << (order - k)) + (nuint)(at >> k));
            at += 1UL << k;
        }

        for (int k = 0; k < order; k++)
        {
            State(k).Hint = (index << (order - k)) + (nuint)(((last >> (k + 1)) << 1) | 1);
        }

        State(0).Counters.Allocations += (long)pages;
        _freePages -= (long)pages;
    }

    // Sets bits [first, first + count) of a bitmap.
    private static void SetBits(ulong* bitmap, nuint first, ulong count)
    {
        for (ulong i = first, end = first + count; i < end;)
        {
            int offset = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - offset), end - i);
            bitmap[i >> 6] |= (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << offset;
            i += (ulong)n;
        }
    }

    /// <summary>
    /// True when <paramref name="other"/> is in exactly the same state: every bitmap word, and each order's hint,
    /// free-block count and counters. For tests that show two ways of reaching a state agree.
    /// </summary>
    internal bool HasSameStateAs(BuddyAllocator other)
    {
        if (other._metadata.Length != _metadata.Length || other._freePages != _freePages || other._nonEmptyOrders != _nonEmptyOrders
            || !new ReadOnlySpan<byte>(_metadata.Pointer, checked((int)_metadata.Length)).SequenceEqual(new ReadOnlySpan<byte>(other._metadata.Pointer, checked((int)other._metadata.Length))))
        {
            return false;
        }

        for (int k = 0; k <= _maxOrder; k++)
        {
            ref OrderState a = ref State(k);
            ref OrderState b = ref other.State(k);
            if (a.Hint != b.Hint || a.FreeBlocks != b.FreeBlocks || a.Counters != b.Counters)
            {
                return false;
            }
        }

        return true;
    }
}
