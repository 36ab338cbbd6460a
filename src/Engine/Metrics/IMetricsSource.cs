namespace FastRmp.Engine.Metrics;

/// <summary>
/// Something that counts work the <see cref="EngineMetrics"/> instruments report: a scenario host, a replay. The
/// values are running totals since the source was created.
/// </summary>
/// <remarks>
/// The instruments' callbacks read these properties on the metrics listener's thread while the source runs on its
/// own, so an implementation returns plain <see langword="long"/> fields that the hot path increments (an aligned
/// 64-bit read does not tear on x64): the hot path pays nothing for being observed. Values must not decrease.
/// </remarks>
public interface IMetricsSource
{
    /// <summary>Trace events processed.</summary>
    long Events { get; }

    /// <summary>Page faults handled (private and shared).</summary>
    long Faults { get; }

    /// <summary>RMP operations: instructions executed (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST, failed or not) and lookups.</summary>
    long RmpOperations { get; }

    /// <summary>Bytes of input read (trace files).</summary>
    long BytesRead { get; }
}
