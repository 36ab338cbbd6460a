namespace FastRmp.Cli.Tests;

/// <summary>
/// Tests that start heavy child processes (a Native AOT publish, a live EventPipe session with its time limits) run
/// one after another, not beside each other: on a 2-core machine a concurrent AOT compile starved the live-metrics
/// child of its diagnostics port within the limit.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HeavyProcesses
{
    /// <summary>The collection's name.</summary>
    public const string Name = "heavy child processes";
}
