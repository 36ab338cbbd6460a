namespace FastRmp.Engine.Reports;

/// <summary>What one 2 MiB region of host memory holds, as <see cref="HostMemoryMap"/> classifies it for one guest.</summary>
/// <remarks>The numeric values are stable: reports embed them.</remarks>
public enum HostRegionState : byte
{
    /// <summary>Every page of the region is free in the host's page allocator, and none is private to the guest.</summary>
    Free = 0,

    /// <summary>
    /// Some page is allocated but no RMP entry of the region is assigned to the guest: shared guest memory, host
    /// memory, or (in a host with several guests) another guest's memory.
    /// </summary>
    Shared = 1,

    /// <summary>The region is one 2M RMP entry assigned to the guest.</summary>
    Private2M = 2,

    /// <summary>The region holds 4K RMP entries assigned to the guest and was never split by PSMASH.</summary>
    Private4K = 3,

    /// <summary>
    /// The region was a 2M entry that PSMASH split (<see cref="Rmp.RmpTable.IsSmashed"/>) and it still holds 4K
    /// entries assigned to the guest: the cost the 2023 debate is about.
    /// </summary>
    Smashed = 4,
}
