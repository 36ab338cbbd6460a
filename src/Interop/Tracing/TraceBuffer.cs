using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing;

/// <summary>Where one CPU's ring-buffer data lives in a trace.dat file.</summary>
/// <param name="Cpu">The CPU number.</param>
/// <param name="Offset">Absolute file offset of the data (for compressed data: of the chunk count word).</param>
/// <param name="Size">Size as written in the file (for compressed data it leaves out the 4-byte chunk count).</param>
public readonly record struct CpuData(int Cpu, long Offset, long Size);

/// <summary>
/// A ring-buffer instance in a trace.dat file: the top instance (name "") or a named one (<c>trace-cmd record -B</c>).
/// </summary>
/// <remarks>Source: trace.dat v6 flyrecord table and BUFFER option, v7 BUFFER option (traces.md sections 2.2, 2.3).</remarks>
/// <param name="Name">Instance name, "" for the top instance.</param>
/// <param name="Clock">The trace clock (<c>local</c>, <c>x86-tsc</c>...), "" when unknown.</param>
/// <param name="SubBufferSize">Bytes per ring-buffer sub-buffer ("page").</param>
/// <param name="IsCompressed">True when the per-CPU data is a list of compressed chunks.</param>
/// <param name="Cpus">Per-CPU data locations.</param>
public sealed record TraceBuffer(string Name, string Clock, int SubBufferSize, bool IsCompressed, ImmutableArray<CpuData> Cpus);

/// <summary>The ring-buffer page header layout, from the file's <c>header_page</c> text.</summary>
/// <remarks>Source: <c>events/header_page</c> (traces.md section 2.4): u64 timestamp, local_t commit (4 or 8 bytes), data.</remarks>
/// <param name="CommitOffset">Offset of the commit word.</param>
/// <param name="CommitSize">Size of the commit word: the traced kernel's long (4 or 8).</param>
/// <param name="DataOffset">Offset of the first event.</param>
public readonly record struct PageHeaderLayout(int CommitOffset, int CommitSize, int DataOffset);

/// <summary>A trace.dat option as found in the file, kept for reporting and for callers that need more.</summary>
/// <param name="Id">The option id (1 DATE, 2 CPUSTAT, 3 BUFFER, 4 TRACECLOCK, 5 UNAME, 7 OFFSET, 8 CPUCOUNT, 9 VERSION, 14 TSC2NSEC...).</param>
/// <param name="FileOffset">Offset of the option's data in the file (or in its decompressed section).</param>
/// <param name="Data">The option's bytes.</param>
public sealed record TraceOption(int Id, long FileOffset, ReadOnlyMemory<byte> Data);
