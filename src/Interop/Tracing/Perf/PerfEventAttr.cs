using System.Collections.Immutable;

namespace FastRmp.Interop.Tracing.Perf;

/// <summary>One event attribute of a perf.data file (<c>struct perf_event_attr</c>, the fields FastRmp uses) and the sample ids that belong to it.</summary>
/// <param name="Type">The PMU type: 2 (<c>PERF_TYPE_TRACEPOINT</c>) for tracepoints.</param>
/// <param name="Config">For tracepoints, the event ID (the same number as the records' <c>common_type</c>).</param>
/// <param name="SampleType">The fields each sample carries.</param>
/// <param name="ReadFormat">The <c>read_format</c> bits (they size a <see cref="PerfSampleFormat.Read"/> block).</param>
/// <param name="Flags">The bit-field word (disabled, inherit, ..., sample_id_all at bit 18, use_clockid at bit 25), in little-endian bit order.</param>
/// <param name="ClockId">The <c>clockid</c> when <see cref="UsesClockId"/>.</param>
/// <param name="Ids">The sample ids of this attribute (one per CPU or thread the event was opened on).</param>
/// <remarks>
/// Source: include/uapi/linux/perf_event.h of Linux 6.18 (<c>struct perf_event_attr</c>: config at 8, sample_type at
/// 24, read_format at 32, the flag word at 40, clockid at 92) and tools/perf/Documentation/perf.data-file-format.txt.
/// Immutable.
/// </remarks>
public sealed record PerfEventAttr(uint Type, ulong Config, PerfSampleFormat SampleType, ulong ReadFormat, ulong Flags, int ClockId, ImmutableArray<ulong> Ids)
{
    /// <summary><c>PERF_TYPE_TRACEPOINT</c>.</summary>
    public const uint TracepointType = 2;

    /// <summary>The smallest attribute perf ever wrote (<c>PERF_ATTR_SIZE_VER0</c>): up to the flag word and wakeup fields.</summary>
    public const int MinSize = 64;

    /// <summary>True when non-sample records end with a <c>sample_id</c> trailer (pid/tid, time, id, cpu).</summary>
    public bool SampleIdAll => (Flags & (1UL << 18)) != 0;

    /// <summary>True when the attribute names its clock (<see cref="ClockId"/>).</summary>
    public bool UsesClockId => (Flags & (1UL << 25)) != 0;

    /// <summary>True for a tracepoint event (its samples carry a raw tracepoint record).</summary>
    public bool IsTracepoint => Type == TracepointType;

    /// <summary>Parses the attribute in <paramref name="bytes"/> (its own <c>size</c> field, at least <see cref="MinSize"/>, bounds what is read).</summary>
    /// <exception cref="TraceFormatException">The bytes are too short or the size field is implausible.</exception>
    internal static PerfEventAttr Parse(ReadOnlySpan<byte> bytes, PerfByteOrder order, ImmutableArray<ulong> ids, string name, long offset)
    {
        if (bytes.Length < MinSize)
        {
            throw new TraceFormatException($"{name}: perf_event_attr at offset 0x{offset:x} has {bytes.Length} bytes, fewer than the {MinSize} of the smallest version");
        }

        uint size = order.U32(bytes, 4);
        if (size != 0 && size < MinSize)
        {
            throw new TraceFormatException($"{name}: perf_event_attr at offset 0x{offset:x} says its size is {size}, fewer than the {MinSize} of the smallest version");
        }

        ulong flags = order.U64(bytes, 40);
        if (order.IsBigEndian)
        {
            // A big-endian compiler packs bit-fields from the most significant bit: bit 0 (disabled) is bit 63 there.
            flags = ReverseBits(flags);
        }

        int available = size == 0 ? bytes.Length : (int)Math.Min(size, (uint)bytes.Length);
        int clockId = available >= 96 ? (int)order.U32(bytes, 92) : 0;
        return new PerfEventAttr(order.U32(bytes, 0), order.U64(bytes, 8), (PerfSampleFormat)order.U64(bytes, 24), order.U64(bytes, 32), flags, clockId, ids);
    }

    private static ulong ReverseBits(ulong v)
    {
        ulong r = 0;
        for (int i = 0; i < 64; i++)
        {
            r = (r << 1) | ((v >> i) & 1);
        }

        return r;
    }
}
