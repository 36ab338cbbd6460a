using System.Numerics;
using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

public sealed unsafe partial class BuddyAllocator
{
    /// <summary>
    /// Checks the whole structure and throws on the first broken invariant: blocks form a tree (every live block's
    /// ancestors are split, nothing below a live block is marked), no free block has a free buddy of the same order,
    /// free + allocated pages = <see cref="PageCount"/>, per-order counts and the summary levels agree with the bitmaps.
    /// </summary>
    /// <remarks>O(pages) time; meant for tests and debugging, not for the hot path.</remarks>
    /// <exception cref="InvalidOperationException">An invariant does not hold; the message says which and where.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void Verify()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<long> freeNodes = stackalloc long[_maxOrder + 1];
        Span<long> splitNodes = stackalloc long[_maxOrder + 1];
        freeNodes.Clear();
        splitNodes.Clear();
        ulong freePages = 0;
        ulong allocatedPages = 0;
        ulong roots = _spanPages >> _maxOrder;
        for (ulong i = 0; i < roots; i++)
        {
            Walk(_maxOrder, (nuint)i, freeNodes, splitNodes, ref freePages, ref allocatedPages);
        }

        Check(freePages + allocatedPages == PageCount, $"free {freePages} + allocated {allocatedPages} pages != {PageCount}");
        Check(freePages == (ulong)_freePages, $"walked {freePages} free pages, counter says {_freePages}");
        for (int k = 0; k <= _maxOrder; k++)
        {
            ulong bits = _spanPages >> k;
            long freeBits = PopCount(Level(k, 0), Words(bits));
            Check(freeBits == freeNodes[k], $"order {k}: {freeBits} free bits but {freeNodes[k]} free blocks in the tree (a stray bit)");
            Check(freeBits == State(k).FreeBlocks, $"order {k}: {freeBits} free bits but the count says {State(k).FreeBlocks}");
            Check(((_nonEmptyOrders >> k) & 1) == (freeBits != 0 ? 1UL : 0UL), $"order {k}: non-empty mask disagrees with {freeBits} free blocks");
            if (k >= 1)
            {
                long splitBits = PopCount(Split(k), Words(bits));
                Check(splitBits == splitNodes[k], $"order {k}: {splitBits} split bits but {splitNodes[k]} split blocks in the tree (a stray bit)");
            }

            ulong below = Words(bits);
            for (int l = 1; l < _depth; l++)
            {
                ulong* lower = Level(k, l - 1);
                ulong* upper = Level(k, l);
                ulong words = Words(below);
                for (ulong w = 0; w < words * 64; w++)
                {
                    bool expected = w < below && lower[w] != 0;
                    bool actual = ((upper[w >> 6] >> (int)(w & 63)) & 1) != 0;
                    Check(expected == actual, $"order {k}: summary level {l} bit {w} is {actual} but the word below is {(expected ? "non-empty" : "empty")}");
                }

                below = words;
            }
        }

        for (int k = _maxOrder + 1; k < 64; k++)
        {
            Check(((_nonEmptyOrders >> k) & 1) == 0, $"non-empty mask has order {k} above MaxOrder");
        }
    }

    private void Walk(int order, nuint index, Span<long> freeNodes, Span<long> splitNodes, ref ulong freePages, ref ulong allocatedPages)
    {
        ulong start = PfnOf(index, order);
        ulong end = start + (1UL << order);
        if (end <= _basePfn || start >= _endPfn)
        {
            return;
        }

        if (start < _basePfn || end > _endPfn)
        {
            Check(order >= 1 && IsSplit(order, index) && !IsFree(order, index), $"block 0x{start:x} of order {order} straddles the range edge but is not split");
            splitNodes[order]++;
            Walk(order - 1, index << 1, freeNodes, splitNodes, ref freePages, ref allocatedPages);
            Walk(order - 1, (index << 1) | 1, freeNodes, splitNodes, ref freePages, ref allocatedPages);
            return;
        }

        if (IsFree(order, index))
        {
            Check(order == 0 || !IsSplit(order, index), $"block 0x{start:x} of order {order} is both free and split");
            Check(order == _maxOrder || !IsFree(order, index ^ 1), $"free block 0x{start:x} of order {order} has a free buddy (missed merge)");
            freeNodes[order]++;
            freePages += 1UL << order;
        }
        else if (order != 0 && IsSplit(order, index))
        {
            splitNodes[order]++;
            Walk(order - 1, index << 1, freeNodes, splitNodes, ref freePages, ref allocatedPages);
            Walk(order - 1, (index << 1) | 1, freeNodes, splitNodes, ref freePages, ref allocatedPages);
        }
        else
        {
            allocatedPages += 1UL << order;
        }
    }

    private static long PopCount(ulong* words, ulong count)
    {
        long total = 0;
        for (ulong i = 0; i < count; i++)
        {
            total += BitOperations.PopCount(words[i]);
        }

        return total;
    }

    private static ulong Words(ulong bits) => (bits + 63) / 64;

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"BuddyAllocator.Verify: {message}.");
        }
    }

    // Test hooks: flip one bit behind the allocator's back, so tests can show that Verify notices.
    internal void FlipFreeBitForTesting(int order, kvm_pfn_t pfn) => Level(order, 0)[Index(pfn.Value, order) >> 6] ^= 1UL << (int)(Index(pfn.Value, order) & 63);

    internal void FlipSplitBitForTesting(int order, kvm_pfn_t pfn) => Split(order)[Index(pfn.Value, order) >> 6] ^= 1UL << (int)(Index(pfn.Value, order) & 63);
}
