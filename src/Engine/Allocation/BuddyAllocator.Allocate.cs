using System.Numerics;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>
    /// Allocates a block of 2^<paramref name="order"/> pages, aligned to its size. Returns <see langword="false"/>
    /// when no free block of that order or larger exists (exhaustion or fragmentation).
    /// </summary>
    /// <remarks>
    /// Models <c>__rmqueue_smallest</c> and <c>expand</c>, mm/page_alloc.c, Linux 6.18: the smallest order with a
    /// free block is used and split down, the upper half at each step staying free. Within an order the block most
    /// recently freed or split off is reused if it is still free (LIFO-ish, like the head of a free list);
    /// otherwise the lowest-addressed one is taken.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="order"/> is negative or above <see cref="MaxOrder"/>.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public bool TryAllocate(int order, out kvm_pfn_t pfn)
    {
        if (IsBadOrder(order))
        {
            ThrowOrderOutOfRange(nameof(TryAllocate), order);
        }

        ref OrderState state = ref State(order);
        nuint index = state.Hint;
        if (IsFree(order, index))
        {
            ClearFree(order, index);
        }
        else
        {
            ulong candidates = _nonEmptyOrders & (ulong.MaxValue << order);
            if (candidates == 0)
            {
                pfn = default;
                return false;
            }

            int found = BitOperations.TrailingZeroCount(candidates);
            ref OrderState from = ref State(found);

            // The lowest-addressed free block, found without the summary walk when the order has one free block
            // and it is the hint (filling memory in address order leaves at most one free block per order).
            index = from.FreeBlocks == 1 && IsFree(found, from.Hint) ? from.Hint : FindFirstFree(found);
            ClearFree(found, index);
            while (found > order)
            {
                State(found).Counters.Splits++;
                SetSplit(found, index);
                found--;
                index <<= 1;
                SetFree(found, index | 1);
            }
        }

        state.Counters.Allocations++;
        _freePages -= 1L << order;
        pfn = new kvm_pfn_t(PfnOf(index, order));
        return true;
    }
}
