using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsFree(int order, nuint index) => ((Level(order, 0)[index >> 6] >> (int)(index & 63)) & 1) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsSplit(int order, nuint index) => ((Split(order)[index >> 6] >> (int)(index & 63)) & 1) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetSplit(int order, nuint index) => Split(order)[index >> 6] |= 1UL << (int)(index & 63);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ClearSplit(int order, nuint index) => Split(order)[index >> 6] &= ~(1UL << (int)(index & 63));

    // Marks block (order, index) free; a word that turns non-empty sets its bit one summary level up, and so on.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetFree(int order, nuint index)
    {
        Debug.Assert(!IsFree(order, index), "block already free");
        ulong* word = Level(order, 0) + (index >> 6);
        ulong old = *word;
        *word = old | (1UL << (int)(index & 63));
        if (old == 0)
        {
            PropagateSet(order, index >> 6);
        }

        ref OrderState state = ref State(order);
        state.Hint = index;
        if (state.FreeBlocks++ == 0)
        {
            _nonEmptyOrders |= 1UL << order;
        }
    }

    // Marks block (order, index) not free; a word that turns empty clears its bit one summary level up, and so on.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ClearFree(int order, nuint index)
    {
        Debug.Assert(IsFree(order, index), "block not free");
        ulong* word = Level(order, 0) + (index >> 6);
        ulong now = *word & ~(1UL << (int)(index & 63));
        *word = now;
        if (now == 0)
        {
            PropagateClear(order, index >> 6);
        }

        if (--State(order).FreeBlocks == 0)
        {
            _nonEmptyOrders &= ~(1UL << order);
        }
    }

    private void PropagateSet(int order, nuint index)
    {
        for (int l = 1; l < _depth; l++)
        {
            ulong* word = Level(order, l) + (index >> 6);
            ulong old = *word;
            *word = old | (1UL << (int)(index & 63));
            if (old != 0)
            {
                return;
            }

            index >>= 6;
        }
    }

    private void PropagateClear(int order, nuint index)
    {
        for (int l = 1; l < _depth; l++)
        {
            ulong* word = Level(order, l) + (index >> 6);
            ulong now = *word & ~(1UL << (int)(index & 63));
            *word = now;
            if (now != 0)
            {
                return;
            }

            index >>= 6;
        }
    }

    // The lowest-addressed free block of an order known to have one: one trailing-zero count per level, top down.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nuint FindFirstFree(int order)
    {
        nuint index = 0;
        for (int l = _depth - 1; l >= 0; l--)
        {
            ulong word = Level(order, l)[index];
            Debug.Assert(word != 0, "summary says non-empty but the word is empty");
            index = (index << 6) | (nuint)BitOperations.TrailingZeroCount(word);
        }

        return index;
    }
}
