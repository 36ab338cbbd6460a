using System.Numerics;

namespace FastRmp.Interop.Tracing.Perf;

/// <summary>The fields of a <c>PERF_RECORD_SAMPLE</c> (or a <c>sample_id</c> trailer) that FastRmp uses.</summary>
/// <remarks>
/// Source: the <c>PERF_RECORD_SAMPLE</c> and <c>sample_id</c> layout comments of include/uapi/linux/perf_event.h,
/// Linux 6.18. A sample's fields come in a fixed order (identifier, ip, pid/tid, time, addr, id, stream_id, cpu,
/// period, read, callchain, raw, ...); everything after <c>raw</c> is not needed and not read. Every offset is checked
/// against the record's size: a field that would run past it makes the parse fail (the record counts as damage).
/// </remarks>
internal struct PerfSample
{
    public ulong Id;
    public int Pid;
    public int Tid;
    public ulong Time;
    public bool HasTime;
    public int Cpu;
    public int RawOffset;
    public int RawLength;

    private const PerfSampleFormat TrailerFields = PerfSampleFormat.Tid | PerfSampleFormat.Time | PerfSampleFormat.Id
        | PerfSampleFormat.StreamId | PerfSampleFormat.Cpu | PerfSampleFormat.Identifier;

    /// <summary>Parses a sample body (the record after its 8-byte header); false when a field runs past the end.</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, PerfEventAttr attr, PerfByteOrder order, out PerfSample sample)
    {
        sample = default;
        sample.RawOffset = -1;
        var t = attr.SampleType;
        int p = 0;
        int n = body.Length;
        if (Has(t, PerfSampleFormat.Identifier))
        {
            if (n - p < 8)
            {
                return false;
            }

            sample.Id = order.U64(body, p);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Ip))
        {
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Tid))
        {
            if (n - p < 8)
            {
                return false;
            }

            sample.Pid = (int)order.U32(body, p);
            sample.Tid = (int)order.U32(body, p + 4);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Time))
        {
            if (n - p < 8)
            {
                return false;
            }

            sample.Time = order.U64(body, p);
            sample.HasTime = true;
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Addr))
        {
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Id))
        {
            if (n - p < 8)
            {
                return false;
            }

            sample.Id = order.U64(body, p);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.StreamId))
        {
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Cpu))
        {
            if (n - p < 8)
            {
                return false;
            }

            sample.Cpu = (int)Math.Min(order.U32(body, p), int.MaxValue);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Period))
        {
            p += 8;
        }

        if (p > n)
        {
            return false;
        }

        if (Has(t, PerfSampleFormat.Read))
        {
            long size = ReadBlockSize(body[p..], attr.ReadFormat, order);
            if (size < 0 || size > n - p)
            {
                return false;
            }

            p += (int)size;
        }

        if (Has(t, PerfSampleFormat.Callchain))
        {
            if (n - p < 8)
            {
                return false;
            }

            ulong nr = order.U64(body, p);
            p += 8;
            if (nr > (ulong)(n - p) / 8)
            {
                return false;
            }

            p += (int)nr * 8;
        }

        if (Has(t, PerfSampleFormat.Raw))
        {
            if (n - p < 4)
            {
                return false;
            }

            uint size = order.U32(body, p);
            p += 4;
            if (size > (uint)(n - p))
            {
                return false;
            }

            sample.RawOffset = p;
            sample.RawLength = (int)size;
        }

        return true;
    }

    /// <summary>Bytes of the <c>sample_id</c> trailer that non-sample records of <paramref name="attr"/> carry (0 without sample_id_all).</summary>
    public static int TrailerSize(PerfEventAttr attr) => attr.SampleIdAll ? 8 * BitOperations.PopCount((ulong)(attr.SampleType & TrailerFields)) : 0;

    /// <summary>Parses the <c>sample_id</c> trailer at the end of a non-sample record's body; false when it does not fit.</summary>
    public static bool TryParseTrailer(ReadOnlySpan<byte> body, PerfEventAttr attr, PerfByteOrder order, out PerfSample sample)
    {
        sample = default;
        sample.RawOffset = -1;
        int size = TrailerSize(attr);
        if (size == 0 || size > body.Length)
        {
            return size == 0;
        }

        var t = attr.SampleType;
        int p = body.Length - size;
        if (Has(t, PerfSampleFormat.Tid))
        {
            sample.Pid = (int)order.U32(body, p);
            sample.Tid = (int)order.U32(body, p + 4);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Time))
        {
            sample.Time = order.U64(body, p);
            sample.HasTime = true;
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Id))
        {
            sample.Id = order.U64(body, p);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.StreamId))
        {
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Cpu))
        {
            sample.Cpu = (int)Math.Min(order.U32(body, p), int.MaxValue);
            p += 8;
        }

        if (Has(t, PerfSampleFormat.Identifier))
        {
            sample.Id = order.U64(body, p);
        }

        return true;
    }

    /// <summary>Where a sample's id is, in u64 words from the body's start (-1: the sample has no id).</summary>
    public static int IdPosition(PerfSampleFormat t)
    {
        if (Has(t, PerfSampleFormat.Identifier))
        {
            return 0;
        }

        if (!Has(t, PerfSampleFormat.Id))
        {
            return -1;
        }

        int words = 0;
        foreach (var f in (ReadOnlySpan<PerfSampleFormat>)[PerfSampleFormat.Ip, PerfSampleFormat.Tid, PerfSampleFormat.Time, PerfSampleFormat.Addr])
        {
            words += Has(t, f) ? 1 : 0;
        }

        return words;
    }

    /// <summary>Where a non-sample record's id is, in u64 words back from the body's end (-1: none).</summary>
    public static int TrailerIdPosition(PerfSampleFormat t)
    {
        if (Has(t, PerfSampleFormat.Identifier))
        {
            return 1;
        }

        if (!Has(t, PerfSampleFormat.Id))
        {
            return -1;
        }

        return 1 + (Has(t, PerfSampleFormat.StreamId) ? 1 : 0) + (Has(t, PerfSampleFormat.Cpu) ? 1 : 0);
    }

    /// <summary>Size of a <c>read_format</c> block, or -1 when its group count does not fit in <paramref name="rest"/>.</summary>
    private static long ReadBlockSize(ReadOnlySpan<byte> rest, ulong readFormat, PerfByteOrder order)
    {
        const ulong Enabled = 1, Running = 2, IdBit = 4, Group = 8, LostBit = 16;
        long times = ((readFormat & Enabled) != 0 ? 8 : 0) + ((readFormat & Running) != 0 ? 8 : 0);
        long perValue = 8 + ((readFormat & IdBit) != 0 ? 8 : 0) + ((readFormat & LostBit) != 0 ? 8 : 0);
        if ((readFormat & Group) == 0)
        {
            return times + perValue;
        }

        if (rest.Length < 8)
        {
            return -1;
        }

        ulong nr = order.U64(rest, 0);
        return nr > (ulong)rest.Length / 8 ? -1 : 8 + times + ((long)nr * perValue);
    }

    private static bool Has(PerfSampleFormat t, PerfSampleFormat f) => (t & f) != 0;
}
