namespace FastRmp.Engine.Metrics;

// The replay's own counters (ReplaySession.Result), in the order it appends them; docs/replay.md explains each inference.
public static partial class CounterCatalog
{
    /// <summary><c>replay_faults</c>: guest accesses replayed.</summary>
    public static CounterInfo ReplayFaults { get; } = ReplayCounter(
        "replay_faults", "replayed faults", "accesses", "guest accesses replayed (kvm_page_fault events that start one)",
        "model: kvm_page_fault trace events, arch/x86/kvm/trace.h, 6.18");

    /// <summary><c>replay_mmio</c>: replayed accesses outside every memslot.</summary>
    public static CounterInfo ReplayMmio { get; } = ReplayCounter(
        "replay_mmio", "MMIO accesses", "accesses", "replayed accesses that found no memslot (emulated MMIO)",
        "model: the replay's memslot lookup");

    /// <summary><c>pfns_from_trace</c>: host pfns claimed as traced.</summary>
    public static CounterInfo PfnsFromTrace { get; } = ReplayCounter(
        "pfns_from_trace", "pfns as traced", "allocations", "allocations placed at the pfn kvm_mmu_spte_requested traced (free in the model's allocator)",
        "model: the replay's traced-pfn allocator");

    /// <summary><c>pfns_not_free</c>: traced pfns the model's allocator did not have free.</summary>
    public static CounterInfo PfnsNotFree { get; } = ReplayCounter(
        "pfns_not_free", "pfns not free", "allocations", "allocations whose traced pfn was outside the host or in use, so the model allocated elsewhere",
        "model: the replay's traced-pfn allocator");

    /// <summary><c>inferred_slots</c>: memslots inferred around faulting gfns.</summary>
    public static CounterInfo InferredSlots { get; } = ReplayCounter(
        "inferred_slots", "inferred slots", "memslots", "guest_memfd-backed 1 GiB memslots inferred around faulting gfns that had none",
        "model: replay inference (no memslot events, no --memslots)");

    /// <summary><c>inferred_conversions</c>: attribute flips inferred from a fault's private bit.</summary>
    public static CounterInfo InferredConversions { get; } = ReplayCounter(
        "inferred_conversions", "inferred conversions", "pages", "attribute flips inferred from a fault's private bit (a conversion not in the trace)",
        "model: replay inference");

    /// <summary><c>folios_inferred_2m</c>: 2 MiB blocks given a 2M folio because the trace shows a private 2M leaf there.</summary>
    public static CounterInfo FoliosInferred2M { get; } = ReplayCounter(
        "folios_inferred_2m", "2M folios inferred", "folios",
        "2 MiB blocks of guest_memfd given one 2M folio because the traced kernel mapped a private 2M leaf there (--folio auto)",
        "model: replay inference from kvm_mmu_spte_requested level 2 on a private fault");

    /// <summary><c>shared_thp_inferred</c>: 2 MiB blocks of shared memory backed by a huge page because the trace shows a shared 2M leaf.</summary>
    public static CounterInfo SharedHugePagesInferred { get; } = ReplayCounter(
        "shared_thp_inferred", "shared THPs inferred", "blocks",
        "2 MiB blocks of the VMM's shared memory backed by a transparent huge page because the traced kernel mapped a shared 2M leaf there (--folio auto)",
        "model: replay inference from kvm_mmu_spte_requested level 2 on a shared fault (host_pfn_mapping_level saw a PMD)");

    /// <summary><c>inferred_validations</c>: PVALIDATEs inferred for private accesses to pages not validated.</summary>
    public static CounterInfo InferredValidations { get; } = ReplayCounter(
        "inferred_validations", "inferred acceptances", "PVALIDATEs", "PVALIDATEs inferred for private accesses to pages the guest had not validated",
        "model: replay inference");

    /// <summary><c>memslot_errors</c>: memslot requests the model refused.</summary>
    public static CounterInfo MemslotErrors { get; } = ReplayCounter(
        "memslot_errors", "memslot errors", "requests", "memslot requests the model refused",
        "model: KVM_SET_USER_MEMORY_REGION2's checks, kvm_set_memory_region, virt/kvm/kvm_main.c, 6.18");

    /// <summary><c>memslot_events_ignored</c>: the trace's memslot events, ignored for <c>--memslots</c>.</summary>
    public static CounterInfo MemslotEventsIgnored { get; } = ReplayCounter(
        "memslot_events_ignored", "memslot events ignored", "events", "the trace's memslot events, ignored because a memslot file was given",
        "model: the replay");

    /// <summary><c>attribute_errors</c>: attribute requests the model refused.</summary>
    public static CounterInfo AttributeErrors { get; } = ReplayCounter(
        "attribute_errors", "attribute errors", "requests", "memory-attribute requests the model refused",
        "model: KVM_SET_MEMORY_ATTRIBUTES's checks, kvm_vm_ioctl_set_mem_attributes, virt/kvm/kvm_main.c, 6.18");

    private static CounterInfo ReplayCounter(string name, string title, string unit, string description, string source)
        => new(name, title, unit, description, source, CounterSet.Replay);
}
