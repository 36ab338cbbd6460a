using FastRmp.Interop;

namespace FastRmp.Engine.Allocation;

/// <summary>
/// The host allocator as a replay sees it: when the trace says which pfn the real host mapped
/// (<c>kvm_mmu_spte_requested</c>), the next allocation claims the block holding that pfn if it is free, so the
/// model's physical memory follows the real host's; otherwise it allocates as the buddy allocator would.
/// </summary>
/// <remarks>
/// The traced pfn is exact to 4 KiB (mmu.c adds the gfn's offset inside a huge mapping), so the block claimed is
/// the traced pfn aligned down to the allocation's order. Not thread-safe.
/// </remarks>
public sealed class TracedPfnAllocator(BuddyAllocator inner) : IFolioAllocator
{
    private ulong _hint;
    private bool _hasHint;

    /// <summary>The allocator underneath.</summary>
    public BuddyAllocator Inner { get; } = inner;

    /// <summary>Allocations placed at the traced pfn.</summary>
    public long Claimed { get; private set; }

    /// <summary>Allocations with a traced pfn that was outside the host or already in use (allocated normally).</summary>
    public long Missed { get; private set; }

    /// <summary>Sets the pfn the next allocation should take, until <see cref="ClearHint"/>.</summary>
    public void Hint(ulong pfn)
    {
        _hint = pfn;
        _hasHint = true;
    }

    /// <summary>Forgets the hint.</summary>
    public void ClearHint() => _hasHint = false;

    /// <inheritdoc />
    public bool TryAllocate(int order, out kvm_pfn_t pfn)
    {
        if (_hasHint)
        {
            _hasHint = false;
            ulong block = _hint & ~((1UL << order) - 1);
            ulong first = Inner.BasePfn.Value;

            // In range without overflow: a traced pfn may be anything up to 2^64 - 1.
            if (order <= Inner.MaxOrder && block >= first && block - first < Inner.PageCount
                && (1UL << order) <= Inner.PageCount - (block - first) && Inner.TryClaim(new kvm_pfn_t(block), order))
            {
                Claimed++;
                pfn = new kvm_pfn_t(block);
                return true;
            }

            Missed++;
        }

        return Inner.TryAllocate(order, out pfn);
    }

    /// <inheritdoc />
    public void Free(kvm_pfn_t pfn, int order) => Inner.Free(pfn, order);

    /// <inheritdoc />
    public bool IsFree(kvm_pfn_t pfn) => Inner.IsFree(pfn);

    /// <inheritdoc />
    public void Split(kvm_pfn_t pfn, int order) => Inner.Split(pfn, order);
}
