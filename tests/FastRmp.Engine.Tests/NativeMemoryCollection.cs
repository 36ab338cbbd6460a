namespace FastRmp.Engine.Tests;

/// <summary>
/// Tests that read the process-wide <see cref="FastRmp.Engine.Memory.NativeBuffer.LiveBytes"/> run alone: any other test that
/// builds or disposes a buffer at the same time would move the counter under them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeMemoryCollection
{
    public const string Name = "NativeMemory";
}
