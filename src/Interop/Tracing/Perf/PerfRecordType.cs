namespace FastRmp.Interop.Tracing.Perf;

/// <summary>The record types FastRmp reads in a perf.data data section (kernel records below 64, perf's own records from 64).</summary>
/// <remarks>
/// Source: include/uapi/linux/perf_event.h (<c>enum perf_event_type</c>) and tools/lib/perf/include/perf/event.h
/// (<c>enum perf_user_event_type</c>) of Linux 6.18. Types not listed are skipped by their size.
/// </remarks>
internal static class PerfRecordType
{
    public const uint Lost = 2;
    public const uint Comm = 3;
    public const uint Exit = 4;
    public const uint Throttle = 5;
    public const uint Unthrottle = 6;
    public const uint Fork = 7;
    public const uint Sample = 9;
    public const uint LostSamples = 13;
    public const uint HeaderAttr = 64;
    public const uint HeaderEventType = 65;
    public const uint HeaderTracingData = 66;
    public const uint HeaderBuildId = 67;
    public const uint FinishedRound = 68;
    public const uint HeaderFeature = 80;
    public const uint Compressed = 81;
    public const uint FinishedInit = 82;
    public const uint Compressed2 = 83;

    /// <summary>The 8-byte <c>perf_event_header</c>: u32 type, u16 misc, u16 size.</summary>
    public const int HeaderSize = 8;
}
