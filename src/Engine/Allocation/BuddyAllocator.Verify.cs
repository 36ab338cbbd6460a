using System.Numerics;
using System.Runtime.CompilerServices;
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
                for (ulong u = 0; u < words; u++)
                {
                    // The summary word u one level up, as the 64 words below it say it must be (a vectorized test
                    // first: on a large host most of those words are zero).
                    ulong expected = 0;
                    ulong first = u * 64, end = Math.Min(below, first + 64);
                    if (new ReadOnlySpan<ulong>(lower + first, (int)(end - first)).ContainsAnyExcept(0UL))
                    {
                        for (ulong w = first; w < end; w++)
                        {
                            expected |= (lower[w] != 0 ? 1UL : 0UL) << (int)(w & 63);
                        }
                    }

                    if (expected != upper[u])
                    {
                        ulong w = (u * 64) + (ulong)BitOperations.TrailingZeroCount(expected ^ upper[u]);
                        bool actual = ((upper[u] >> (int)(w & 63)) & 1) != 0;
                        Fail($"order {k}: summary level {l} bit {w} is {actual} but the word below is {(actual ? "empty" : "non-empty")}");
                    }
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
        else if (order == FullySplitOrder && IsAllocatedAsPages(index))
        {
            // Split all the way down with every page allocated (4 KiB folios): the recursion below would visit
            // 1023 nodes to find exactly this.
            for (int k = 1; k <= order; k++)
            {
                splitNodes[k] += 1L << (order - k);
            }

            allocatedPages += 1UL << order;
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
        // Zero words are skipped a vector at a time: a large host's bitmaps are mostly zero at most orders.
        long total = 0;
        for (ulong i = 0; i < count;)
        {
            int n = (int)Math.Min(count - i, 1UL << 24);
            int at = new ReadOnlySpan<ulong>(words + i, n).IndexOfAnyExcept(0UL);
            if (at < 0)
            {
                i += (ulong)n;
                continue;
            }

            i += (ulong)at;
            for (ulong end = Math.Min(count, i + 64); i < end; i++)
            {
                total += BitOperations.PopCount(words[i]);
            }
        }

        return total;
    }

    private static ulong Words(ulong bits) => (bits + 63) / 64;

    // The message is an interpolated-string handler, formatted only when the condition fails: Verify runs its checks
    // per block and per summary word, and formatting each message eagerly cost more than the checks.
    private static void Check(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref VerifyMessage message)
    {
        if (!condition)
        {
            Fail(message.ToStringAndClear());
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Fail(string message) => throw new InvalidOperationException($"BuddyAllocator.Verify: {message}.");

    // Below this order a whole-subtree test saves nothing; at it, 512 pages are checked with a few dozen word reads.
    private const int FullySplitOrder = 9;

    // True when the in-range block (FullySplitOrder, index) is split at every order down to 1 and no block under it
    // is free: 512 allocated order-0 pages. (The block itself is known not to be free.)
    private bool IsAllocatedAsPages(nuint index)
    {
        for (int k = FullySplitOrder; k >= 0; k--)
        {
            int shift = FullySplitOrder - k;
            nuint first = index << shift;
            ulong count = 1UL << shift;
            if ((k != FullySplitOrder && !AllBits(Level(k, 0), first, count, false)) || (k >= 1 && !AllBits(Split(k), first, count, true)))
            {
                return false;
            }
        }

        return true;
    }

    // True when bits [first, first + count) of the bitmap all equal value; count is a power of two, first a multiple of it.
    private static bool AllBits(ulong* bitmap, nuint first, ulong count, bool value)
    {
        ulong want = value ? ulong.MaxValue : 0;
        if (count < 64)
        {
            ulong mask = ((1UL << (int)count) - 1) << (int)(first & 63);
            return (bitmap[first >> 6] & mask) == (want & mask);
        }

        ulong* w = bitmap + (first >> 6);
        for (ulong i = 0; i < count / 64; i++)
        {
            if (w[i] != want)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A Verify message, built only when its check fails.</summary>
    [InterpolatedStringHandler]
    private ref struct VerifyMessage
    {
        private DefaultInterpolatedStringHandler _inner;
        private readonly bool _enabled;

        public VerifyMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            _enabled = !condition;
            shouldAppend = _enabled;
            _inner = _enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string value) => _inner.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _inner.AppendFormatted(value);

        public void AppendFormatted<T>(T value, string? format) => _inner.AppendFormatted(value, format);

        public string ToStringAndClear() => _enabled ? _inner.ToStringAndClear() : string.Empty;
    }

    // Test hooks: flip one bit behind the allocator's back, so tests can show that Verify notices.
    internal void FlipFreeBitForTesting(int order, kvm_pfn_t pfn) => Level(order, 0)[Index(pfn.Value, order) >> 6] ^= 1UL << (int)(Index(pfn.Value, order) & 63);

    internal void FlipSplitBitForTesting(int order, kvm_pfn_t pfn) => Split(order)[Index(pfn.Value, order) >> 6] ^= 1UL << (int)(Index(pfn.Value, order) & 63);

    internal void FlipSummaryBitForTesting(int order, int level, ulong bit) => Level(order, level)[bit >> 6] ^= 1UL << (int)(bit & 63);
}
