using System.Diagnostics;
using System.Numerics;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>
    /// Allocates up to <c>pfns.Length</c> single pages exactly as that many <see cref="TryAllocate"/>(0) calls in a
    /// row would: the same pages in the same order, and afterwards the same free and split bitmaps, hints and
    /// counters. Stops early when memory runs out or before pages <paramref name="filter"/> refuses. Returns the
    /// number of pages allocated, written to the start of <paramref name="pfns"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Each step looks at the block the next <see cref="TryAllocate"/>(0) would use: the order-0 hint if it is free,
    /// else the lowest free block of the smallest order f that has one (the hint when it is that order's only block).
    /// When all 2^f pages of that block are still wanted, the step takes it whole: every order below f is empty, so
    /// the next 2^f calls split it and take its pages in address order (each split leaves only the block's own upper
    /// halves free, and the next call takes the smallest of them), and leave every order below f empty again. Their
    /// combined effect is written at once: the block leaves order f's free bitmap; every sub-block of orders 1..f is
    /// split and counted as a split; order 0 counts 2^f allocations; and the hint of each order k &lt; f is the
    /// block's last order-k upper half, the last block of that order those calls set free. A block larger than what
    /// is left (or one the filter refuses whole) is taken one page at a time through <see cref="TryAllocate"/>.
    /// </para>
    /// <para>Not a kernel function: the model's way of faulting in a run of 4 KiB folios at once.</para>
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public int TryAllocateRun<TFilter>(Span<kvm_pfn_t> pfns, ref TFilter filter)
        where TFilter : struct, IPfnRunFilter
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int done = 0;
        while (done < pfns.Length)
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
            ulong size = 1UL << order;
            if (order > 0 && size <= (ulong)(pfns.Length - done) && filter.Accept(new kvm_pfn_t(first), size))
            {
                TakeWhole(order, index);
                for (ulong i = 0; i < size; i++)
                {
                    pfns[done + (int)i] = new kvm_pfn_t(first + i);
                }

                done += (int)size;
                continue;
            }

            if (!filter.Accept(new kvm_pfn_t(first), 1))
            {
                break;
            }

            bool allocated = TryAllocate(0, out pfns[done]);
            Debug.Assert(allocated && pfns[done].Value == first, "TryAllocate(0) took another page than the run predicted");
            done++;
        }

        return done;
    }

    // The effect of 2^order TryAllocate(0) calls that split the free block (order, index) and take all its pages,
    // with every order below it empty (see TryAllocateRun).
    private void TakeWhole(int order, nuint index)
    {
        ClearFree(order, index);
        for (int k = order; k >= 1; k--)
        {
            ulong blocks = 1UL << (order - k);
            SetBits(Split(k), index << (order - k), blocks);
            State(k).Counters.Splits += (long)blocks;
        }

        for (int k = 0; k < order; k++)
        {
            State(k).Hint = ((index + 1) << (order - k)) - 1;
        }

        State(0).Counters.Allocations += 1L << order;
        _freePages -= 1L << order;
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
