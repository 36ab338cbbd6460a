using System.Diagnostics.Tracing;

namespace FastRmp.Fuzz;

/// <summary>
/// With FASTRMP_FUZZ_ALLOCS=1, <c>run</c> prints the managed allocations of 1 MiB and more (type and size, from the
/// runtime's GC AllocationTick events), to find what a memory blow-up allocates.
/// </summary>
public sealed class AllocationTrace : EventListener
{
    /// <inheritdoc/>
    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        ArgumentNullException.ThrowIfNull(eventSource);
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick
        }
    }

    /// <inheritdoc/>
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is null)
        {
            return;
        }

        int size = eventData.PayloadNames.IndexOf("ObjectSize");
        int type = eventData.PayloadNames.IndexOf("TypeName");
        if (size >= 0 && eventData.Payload![size] is ulong bytes && bytes >= 1 << 20)
        {
            Console.WriteLine($"alloc {bytes >> 20} MiB {(type >= 0 ? eventData.Payload[type] : "?")}");
        }
    }
}
