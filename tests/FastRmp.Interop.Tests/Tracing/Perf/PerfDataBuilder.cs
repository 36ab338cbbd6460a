using System.Buffers.Binary;
using System.Text;

namespace FastRmp.Interop.Tests.Tracing.Perf;

/// <summary>
/// Writes small perf.data files (file or pipe mode, either byte order) with one tracepoint attribute
/// (kvm:kvm_userspace_exit, ID 42) and optionally a non-tracepoint one, for tests of what real recordings rarely show:
/// late records across rounds, lost and throttle records, forks, big-endian hosts.
/// </summary>
/// <remarks>Layout as in tools/perf/Documentation/perf.data-file-format.txt (Linux 6.18); written from that description.</remarks>
internal sealed class PerfDataBuilder(bool bigEndian)
{
    public const ulong TracepointId = 1001;
    public const ulong OtherId = 2002;
    private const ulong SampleType = 0x1 | 0x2 | 0x4 | 0x80 | 0x100 | 0x400 | 0x10000; // IP TID TIME CPU PERIOD RAW IDENTIFIER
    private const ulong TrailerType = SampleType; // trailer: TID TIME CPU IDENTIFIER

    private readonly List<byte[]> _records = [];

    public bool WithOtherAttr { get; set; }

    public PerfDataBuilder Sample(ulong time, int cpu, int pid, int tid, uint reason, int errno, ulong id = TracepointId)
    {
        var raw = new byte[16];
        W16(raw, 0, 42);
        W32(raw, 4, (uint)tid);
        W32(raw, 8, reason);
        W32(raw, 12, (uint)errno);
        var body = new List<byte>();
        body.AddRange(U64(id));
        body.AddRange(U64(0xffffffff81000000));
        body.AddRange(U32((uint)pid));
        body.AddRange(U32((uint)tid));
        body.AddRange(U64(time));
        body.AddRange(U32((uint)cpu));
        body.AddRange(U32(0));
        body.AddRange(U64(1));
        body.AddRange(U32((uint)raw.Length + 4)); // raw size includes 4 bytes of padding to 8
        body.AddRange(raw);
        body.AddRange(new byte[4]);
        return Add(9, body);
    }

    public PerfDataBuilder Comm(ulong time, int pid, int tid, string comm)
    {
        var body = new List<byte>();
        body.AddRange(U32((uint)pid));
        body.AddRange(U32((uint)tid));
        var name = Encoding.UTF8.GetBytes(comm);
        body.AddRange(name);
        body.AddRange(new byte[8 - (name.Length % 8)]);
        Trailer(body, time, pid, tid);
        return Add(3, body);
    }

    public PerfDataBuilder Fork(ulong time, int pid, int ppid, int tid, int ptid)
    {
        var body = new List<byte>();
        foreach (int v in new[] { pid, ppid, tid, ptid })
        {
            body.AddRange(U32((uint)v));
        }

        body.AddRange(U64(time));
        Trailer(body, time, pid, tid);
        return Add(7, body);
    }

    public PerfDataBuilder Lost(ulong count, ulong time)
    {
        var body = new List<byte>();
        body.AddRange(U64(TracepointId));
        body.AddRange(U64(count));
        Trailer(body, time, -1, -1);
        return Add(2, body);
    }

    public PerfDataBuilder Throttle(bool on, ulong time)
    {
        var body = new List<byte>();
        body.AddRange(U64(time));
        body.AddRange(U64(TracepointId));
        body.AddRange(U64(TracepointId));
        Trailer(body, time, -1, -1);
        return Add(on ? 5u : 6u, body);
    }

    public PerfDataBuilder Round() => Add(68, []);

    public PerfDataBuilder Raw(uint type, byte[] body) => Add(type, [.. body]);

    /// <summary>A file-mode perf.data: header, attrs (+ ids), data, feature table with HEADER_TRACING_DATA.</summary>
    public byte[] Build()
    {
        var attrs = Attrs();
        var data = _records.SelectMany(r => r).ToArray();
        var tracing = TracingData();
        const int HeaderSize = 104;
        int attrSize = 136 + 16;
        long idsAt = HeaderSize;
        long attrsAt = idsAt + (8 * attrs.Count);
        long dataAt = attrsAt + (attrSize * attrs.Count);
        long tableAt = dataAt + data.Length;
        long tracingAt = tableAt + 16;
        var f = new byte[tracingAt + tracing.Length];
        "PERFILE2"u8.CopyTo(f);
        if (bigEndian)
        {
            "2ELIFREP"u8.CopyTo(f);
        }

        W64(f, 8, HeaderSize);
        W64(f, 16, (ulong)attrSize);
        W64(f, 24, (ulong)attrsAt);
        W64(f, 32, (ulong)(attrSize * attrs.Count));
        W64(f, 40, (ulong)dataAt);
        W64(f, 48, (ulong)data.Length);
        W64(f, 72, 1UL << 1); // HEADER_TRACING_DATA
        for (int i = 0; i < attrs.Count; i++)
        {
            W64(f, (int)idsAt + (8 * i), attrs[i].Id);
            attrs[i].Attr.CopyTo(f, attrsAt + (attrSize * i));
            W64(f, (int)(attrsAt + (attrSize * i) + 136), (ulong)(idsAt + (8 * i)));
            W64(f, (int)(attrsAt + (attrSize * i) + 144), 8);
        }

        data.CopyTo(f, dataAt);
        W64(f, (int)tableAt, (ulong)tracingAt);
        W64(f, (int)tableAt + 8, (ulong)tracing.Length);
        tracing.CopyTo(f, tracingAt);
        return f;
    }

    /// <summary>A pipe-mode perf.data: 16-byte header, HEADER_ATTR records, HEADER_TRACING_DATA with its data after it, then the records.</summary>
    public byte[] BuildPipe()
    {
        var o = new List<byte>();
        o.AddRange(bigEndian ? "2ELIFREP"u8.ToArray() : "PERFILE2"u8.ToArray());
        o.AddRange(U64(16));
        foreach (var (attr, id) in Attrs())
        {
            o.AddRange(Header(64, 8 + attr.Length + 8));
            o.AddRange(attr);
            o.AddRange(U64(id));
        }

        var tracing = TracingData();
        o.AddRange(Header(66, 16));
        o.AddRange(U32((uint)tracing.Length));
        o.AddRange(new byte[4]);
        o.AddRange(tracing);
        o.AddRange(new byte[((tracing.Length + 7) & ~7) - tracing.Length]);
        foreach (var r in _records)
        {
            o.AddRange(r);
        }

        return [.. o];
    }

    private List<(byte[] Attr, ulong Id)> Attrs()
    {
        var list = new List<(byte[], ulong)> { (Attr(2, 42), TracepointId) };
        if (WithOtherAttr)
        {
            list.Add((Attr(0, 0), OtherId));
        }

        return list;
    }

    private byte[] Attr(uint type, ulong config)
    {
        var a = new byte[136];
        W32(a, 0, type);
        W32(a, 4, 136);
        W64(a, 8, config);
        W64(a, 16, 1);
        W64(a, 24, SampleType);
        ulong flags = (1UL << 0) | (1UL << 1) | (1UL << 18); // disabled, inherit, sample_id_all
        W64(a, 40, bigEndian ? ReverseBits(flags) : flags);
        return a;
    }

    private byte[] TracingData()
    {
        var o = new List<byte>();
        o.AddRange([0x17, 0x08, 0x44]);
        o.AddRange("tracing0.6\0"u8.ToArray());
        o.Add(bigEndian ? (byte)1 : (byte)0);
        o.Add(8);
        o.AddRange(U32(4096));
        o.AddRange("header_page\0"u8.ToArray());
        Text(o, "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n");
        o.AddRange("header_event\0"u8.ToArray());
        Text(o, "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n");
        o.AddRange(U32(0)); // ftrace formats
        o.AddRange(U32(1)); // systems
        o.AddRange("kvm\0"u8.ToArray());
        o.AddRange(U32(1));
        Text(o, "name: kvm_userspace_exit\nID: 42\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__u32 reason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;\n\nprint fmt: \"reason %d errno %d\", REC->reason, REC->errno\n");
        o.AddRange(U32(0)); // kallsyms
        o.AddRange(U32(0)); // printk
        var cmdlines = Encoding.ASCII.GetBytes("7 from-cmdlines\n");
        o.AddRange(U64((ulong)cmdlines.Length));
        o.AddRange(cmdlines);
        return [.. o];

        void Text(List<byte> to, string text)
        {
            var b = Encoding.ASCII.GetBytes(text);
            to.AddRange(U64((ulong)b.Length));
            to.AddRange(b);
        }
    }

    private void Trailer(List<byte> body, ulong time, int pid, int tid)
    {
        body.AddRange(U32((uint)pid));
        body.AddRange(U32((uint)tid));
        body.AddRange(U64(time));
        body.AddRange(U32(0));
        body.AddRange(U32(0));
        body.AddRange(U64(TracepointId));
    }

    private PerfDataBuilder Add(uint type, List<byte> body)
    {
        _records.Add([.. Header(type, 8 + body.Count), .. body]);
        return this;
    }

    private byte[] Header(uint type, int size)
    {
        var h = new byte[8];
        W32(h, 0, type);
        W16(h, 6, (ushort)size);
        return h;
    }

    private byte[] U64(ulong v)
    {
        var b = new byte[8];
        W64(b, 0, v);
        return b;
    }

    private byte[] U32(uint v)
    {
        var b = new byte[4];
        W32(b, 0, v);
        return b;
    }

    private void W16(byte[] b, int at, ushort v)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
        }
    }

    private void W32(byte[] b, int at, uint v)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
        }
    }

    private void W64(byte[] b, int at, ulong v)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(at), v);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
        }
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
