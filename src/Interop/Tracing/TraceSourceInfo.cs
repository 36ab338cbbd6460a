namespace FastRmp.Interop.Tracing;

/// <summary>What a reader knows about its input before reading records.</summary>
/// <param name="Path">The file's path or name.</param>
/// <param name="Kind">The detected format.</param>
/// <param name="Version">The trace.dat version ("6", "7"), perf.data's mode ("file", "pipe"), or a text variant ("trace", "trace_pipe", "report -t").</param>
/// <param name="Compression">trace.dat v7 compression (<c>none</c>, <c>zstd</c>, <c>zlib</c>), perf.data's record compression (<c>zstd</c> with <c>perf record -z</c>); "none" otherwise; a
/// compressed file adds its own first (<c>gzip (whole file)</c>, <c>xz (whole file), zstd (inside)</c>).</param>
/// <param name="CpuCount">CPUs declared by the file (0 when the text does not say).</param>
/// <param name="Clock">The trace clock when known (perf.data: <c>perf</c>, or the attribute's clockid), else "".</param>
public sealed record TraceSourceInfo(string Path, TraceFileKind Kind, string Version, string Compression, int CpuCount, string Clock);
