using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FastRmp.Engine.Allocation;

public sealed partial class BuddyAllocator
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowOrderOutOfRange(string operation, int order)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        throw new ArgumentOutOfRangeException(nameof(order), order, $"{operation}: order {order} is outside 0..{_maxOrder} (MaxOrder).");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowOrderOutOfRange(string operation, ulong pfn, int order)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        throw new ArgumentOutOfRangeException(nameof(order), order, $"{operation}(pfn 0x{pfn:x}, order {order}): the order is outside 0..{_maxOrder} (MaxOrder).");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowOutsideRange(string operation, ulong pfn, int order) =>
        throw new ArgumentOutOfRangeException(
            nameof(pfn), $"{operation}(pfn 0x{pfn:x}, order {order}): the block [0x{pfn:x}, 0x{pfn + (1UL << order):x}) is not inside the host range [0x{_basePfn:x}, 0x{_endPfn:x}).");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowMisaligned(string operation, ulong pfn, int order) =>
        throw new ArgumentException($"{operation}(pfn 0x{pfn:x}, order {order}): the pfn is not aligned to an order-{order} block ({1UL << order} pages).", nameof(pfn));

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNotAllocated(ulong pfn, int order)
    {
        string what = Describe(pfn, order);
        throw new InvalidOperationException($"Free(pfn 0x{pfn:x}, order {order}): not a live allocated block of order {order}; {what}.");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNotFree(ulong pfn, int order)
    {
        string what = Describe(pfn, order);
        throw new InvalidOperationException($"Claim(pfn 0x{pfn:x}, order {order}): the range is not entirely free; {what}.");
    }

    // What the block (pfn, order) is now, for error messages: the free or allocated block that holds pfn, found by
    // walking down from the largest order through split blocks.
    private string Describe(ulong pfn, int order)
    {
        for (int k = _maxOrder; k >= 0; k--)
        {
            nuint index = Index(pfn, k);
            ulong start = PfnOf(index, k);
            if (start < _basePfn || start + (1UL << k) > _endPfn || (k != 0 && IsSplit(k, index) && !IsFree(k, index)))
            {
                continue;
            }

            string kind = IsFree(k, index) ? "free" : "allocated";
            if (k == order)
            {
                return kind == "free" ? "it is already free (double free)" : "it is an allocated block of that order";
            }

            string where = $"0x{pfn:x} lies in the {kind} block of order {k} at 0x{start:x}";
            return k < order ? $"it is split into smaller blocks; {where}" : where;
        }

        return "it is not tracked";
    }
}
