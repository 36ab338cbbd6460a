namespace FastRmp.Interop.Tests;

/// <summary>
/// Tests that measure the process's allocations (<c>GC.GetTotalAllocatedBytes</c>, needed where the reader may
/// decompress on thread-pool threads) run alone: allocations of tests running beside them would count too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasuring
{
    /// <summary>The collection's name.</summary>
    public const string Name = "process-wide allocation measurements";
}
