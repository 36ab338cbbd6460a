namespace FastRmp.Engine.Kvm;

/// <summary>What a VM's fault path did: plain fields, incremented on the hot path (docs/policies.md names them).</summary>
public struct VmCounters
{
    /// <summary>Faults handled by the full fault path with is_private set.</summary>
    public long FaultsPrivate;

    /// <summary>Faults handled by the full fault path with is_private clear.</summary>
    public long FaultsShared;

    /// <summary>KVM_EXIT_MEMORY_FAULT exits (attribute mismatch, no gmem, get_pfn failure).</summary>
    public long MemoryFaultExits;

    /// <summary>Faults that returned RET_PF_RETRY (invalid slot, invalidation in progress).</summary>
    public long Retries;

    /// <summary>Faults on gfns without a slot (emulated MMIO).</summary>
    public long Mmio;

    /// <summary>Leaves installed, by level (index = PG_LEVEL: 1 4K, 2 2M, 3 1G).</summary>
    public LevelCounts Mapped;

    /// <summary>#NPF(RMP) the hardware raised after KVM mapped a gfn (the "extra faults" of the debate).</summary>
    public long RmpNpf;

    /// <summary>SPTEs zapped (attribute changes, guest_memfd invalidation, RMP fault handling).</summary>
    public long Zapped;

    /// <summary>
    /// Write-protection #NPFs (present, write) that <c>fast_page_fault</c> fixed by making the leaf writable again
    /// (dirty logging): no get_pfn, no new leaf, not counted in <see cref="FaultsPrivate"/> or <see cref="FaultsShared"/>.
    /// </summary>
    public long WpFaults;

    /// <summary>MAP_GPA_RANGE exits to userspace (the guest's page-state changes; kernel-domain.md 4.7).</summary>
    public long HypercallExits;

    /// <summary>Shared faults a GMEM_ONLY memslot served from guest_memfd (6.18 MMAP files; in-place conversion).</summary>
    public long SharedFromGmem;

    /// <summary>In-place conversions to private refused with -EAGAIN: a page of the range was still referenced.</summary>
    public long ConversionsBusy;
}

/// <summary>Counts by page-table level.</summary>
public struct LevelCounts
{
    /// <summary>4K.</summary>
    public long Level4K;

    /// <summary>2M.</summary>
    public long Level2M;

    /// <summary>1G.</summary>
    public long Level1G;

    /// <summary>Adds <paramref name="n"/> (default one) at <paramref name="level"/>.</summary>
    public void Add(Interop.Kernel.PgLevel level, long n = 1)
    {
        switch (level)
        {
            case Interop.Kernel.PgLevel.Level4K: Level4K += n; break;
            case Interop.Kernel.PgLevel.Level2M: Level2M += n; break;
            default: Level1G += n; break;
        }
    }
}
