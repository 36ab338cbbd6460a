using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastRmp.Interop.Tracing;

namespace FastRmp.Cli.Commands;

/// <summary>
/// <c>fastrmp events --format text|jsonl</c> on all cores: the reader's thread copies records, in order, into batches;
/// the batches are formatted into UTF-8 on the thread pool (text lines, or JSON lines); the formatted blocks are written
/// in batch order. The output is byte for byte what one thread writes (each line depends on its record only), and
/// memory stays bounded: at most <c>2 x threads</c> batches are in flight.
/// </summary>
internal sealed class EventText
{
    private const int BatchRecords = 4096;
    private const int BatchBytes = 512 << 10;
    private readonly ConcurrentBag<Batch> _freeBatches = [];
    private readonly ConcurrentBag<IBatchFormatter> _formatters = [];

    private readonly bool _jsonl;

    private EventText(bool jsonl) => _jsonl = jsonl;

    /// <summary>Writes every record of <paramref name="reader"/> that <paramref name="wanted"/> keeps (all when null) as text lines, or JSON lines.</summary>
    public static void Write(ITraceReader reader, HashSet<string>? wanted, Utf8Output sink, int threads, bool jsonl = false)
    {
        new EventText(jsonl).Run(reader, wanted, sink, Math.Max(1, threads));
    }

    private void Run(ITraceReader reader, HashSet<string>? wanted, Utf8Output sink, int threads)
    {
        // A trace.dat's comms are its saved cmdlines, fixed for the file: the last pid's comm is reused. Other inputs
        // (perf.data's COMM records) may rename a pid while they are read, so their comm is asked for every record.
        bool fixedComms = reader.Info.Kind == TraceFileKind.TraceDat;
        var commPids = new int[256];
        var commOfPid = new string?[256];
        var inFlight = new Queue<Task<Batch>>();
        var batch = RentBatch();
        try
        {
            while (reader.MoveNext(out var r))
            {
                if (wanted is not null && !wanted.Contains(r.Format.FullName) && !wanted.Contains(r.Format.Name))
                {
                    continue;
                }

                string comm;
                int slot = r.Pid & 255;
                if (r.IsText || !fixedComms)
                {
                    comm = r.Comm;
                }
                else if (commPids[slot] == r.Pid && commOfPid[slot] is { } known)
                {
                    comm = known;
                }
                else
                {
                    comm = commOfPid[slot] = r.Comm;
                    commPids[slot] = r.Pid;
                }

                if (!batch.Add(r, comm))
                {
                    continue;
                }

                if (threads == 1)
                {
                    WriteOut(Format(batch), sink);
                }
                else
                {
                    var full = batch;
                    inFlight.Enqueue(Task.Run(() => Format(full)));
                    if (inFlight.Count >= 2 * threads)
                    {
                        WriteOut(inFlight.Dequeue().GetAwaiter().GetResult(), sink);
                    }
                }

                batch = RentBatch();
            }
        }
        finally
        {
            // Whatever was read before damage stopped the reader is written, in order, before the error is reported.
            while (inFlight.Count > 0)
            {
                WriteOut(inFlight.Dequeue().GetAwaiter().GetResult(), sink);
            }

            if (batch.Count > 0)
            {
                WriteOut(Format(batch), sink);
            }
        }
    }

    private Batch RentBatch()
    {
        if (!_freeBatches.TryTake(out var b))
        {
            b = new Batch();
        }

        b.Clear();
        return b;
    }

    private Batch Format(Batch batch)
    {
        if (!_formatters.TryTake(out var f))
        {
            f = _jsonl ? new JsonLineFormatter() : new LineFormatter();
        }

        batch.Output.Clear();
        f.FormatAll(batch);
        _formatters.Add(f);
        return batch;
    }

    /// <summary>Formats a batch's records into its block; one per thread at a time (kept in a bag between batches).</summary>
    private interface IBatchFormatter
    {
        void FormatAll(Batch batch);
    }

    private void WriteOut(Batch batch, Utf8Output sink)
    {
        sink.Write(batch.Output.Span);
        batch.Clear();
        _freeBatches.Add(batch);
    }

    /// <summary>Records copied out of the reader (whose record is valid until it moves on), and the text made of them.</summary>
    private sealed class Batch
    {
        public TraceRecordBatch Records { get; } = new(BatchRecords, BatchBytes);

        public OutputBlock Output { get; } = new();

        public int Count => Records.Count;

        public void Clear() => Records.Clear();

        /// <summary>Copies a record in; true when the batch is full.</summary>
        public bool Add(in TraceRecord r, string comm) => Records.Add(r, comm);
    }

    /// <summary>A growable UTF-8 block (also an <see cref="System.Buffers.IBufferWriter{T}"/> for a <see cref="System.Text.Json.Utf8JsonWriter"/>).</summary>
    private sealed class OutputBlock : System.Buffers.IBufferWriter<byte>
    {
        private byte[] _bytes = new byte[1 << 20];

        public int Used { get; set; }

        public ReadOnlySpan<byte> Span => _bytes.AsSpan(0, Used);

        public void Clear() => Used = 0;

        public void Advance(int count) => Used += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Room(Math.Max(sizeHint, 256)).AsMemory(Used);

        public Span<byte> GetSpan(int sizeHint = 0) => Room(Math.Max(sizeHint, 256)).AsSpan(Used);

        /// <summary>The buffer, with at least <paramref name="room"/> bytes free after <see cref="Used"/>.</summary>
        public byte[] Room(int room)
        {
            if (_bytes.Length - Used < room)
            {
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, Used + room));
            }

            return _bytes;
        }
    }

    /// <summary>
    /// Formats one line per record: <c>SEC.NSEC [CPU] comm-pid system:event: name=value ...</c>, 64-bit and pointer
    /// fields in hex, other numbers in decimal, strings as they are, arrays as <c>[0x..,0x..]</c>. Each line's room is
    /// reserved once from an upper bound of its length, then written without further checks. One per thread.
    /// </summary>
    private sealed class LineFormatter : IBatchFormatter
    {
        private readonly (EventFormat? Format, FormatPlan? Plan)[] _plans = new (EventFormat?, FormatPlan?)[1024];
        private readonly (string? Comm, byte[] Bytes)[] _comms = new (string?, byte[])[256];

        public void FormatAll(Batch b)
        {
            var output = b.Output;
            var records = b.Records;
            for (int i = 0; i < records.Count; i++)
            {
                var r = records.Record(i);
                var plan = PlanOf(r.Format);
                var comm = CommBytes(r.Pid, records.Comm(i));
                if (r.IsText)
                {
                    var text = r.Text;
                    var buf = output.Room(64 + comm.Length + plan.Name.Length + (3 * text.Length));
                    int p = Head(buf, output.Used, r.Timestamp, r.Cpu, r.Pid, comm, plan.Name);
                    buf[p++] = (byte)' ';
                    p += Encoding.UTF8.GetBytes(text, buf.AsSpan(p));
                    buf[p++] = (byte)'\n';
                    output.Used = p;
                }
                else
                {
                    var buf = output.Room(64 + PrefixRoom + comm.Length + plan.Bound + (20 * r.Payload.Length));
                    int p = Head(buf, output.Used, r.Timestamp, r.Cpu, r.Pid, comm, plan.Name);
                    p = Fields(buf, p, r, plan);
                    buf[p++] = (byte)'\n';
                    output.Used = p;
                }
            }
        }

        private static int Head(byte[] buf, int p, ulong ts, int cpu, int pid, byte[] comm, byte[] name)
        {
            p = Digits.Decimal(buf, p, ts / 1_000_000_000);
            buf[p++] = (byte)'.';
            p = Digits.Padded(buf, p, ts % 1_000_000_000, 9);
            buf[p++] = (byte)' ';
            buf[p++] = (byte)'[';
            p = cpu >= 0 ? Digits.Padded(buf, p, (ulong)cpu, 3) : Digits.Signed(buf, p, cpu, 3);
            buf[p++] = (byte)']';
            buf[p++] = (byte)' ';
            comm.CopyTo(buf.AsSpan(p));
            p += comm.Length;
            buf[p++] = (byte)'-';
            p = Digits.Signed(buf, p, pid, 0);
            buf[p++] = (byte)' ';
            name.CopyTo(buf.AsSpan(p));
            return p + name.Length;
        }

        private static int Fields(byte[] buf, int p, in TraceRecord r, FormatPlan plan)
        {
            foreach (var f in plan.Fields)
            {
                p = Copy(buf, p, f.Prefix, f.PrefixLength);
                switch (f.Style)
                {
                    case FieldStyle.Hex:
                        buf[p++] = (byte)'0';
                        buf[p++] = (byte)'x';
                        p = Digits.Hex(buf, p, r.GetUInt64(f.Field));
                        break;
                    case FieldStyle.Signed:
                        p = Digits.Signed(buf, p, r.GetInt64(f.Field), 0);
                        break;
                    case FieldStyle.Unsigned:
                        p = Digits.Decimal(buf, p, r.GetUInt64(f.Field));
                        break;
                    case FieldStyle.String:
                        p += Encoding.UTF8.GetBytes(r.GetString(f.Field).AsSpan().TrimEnd('\n'), buf.AsSpan(p));
                        break;
                    default:
                        buf[p++] = (byte)'[';
                        int n = r.ElementCount(f.Field);
                        for (int i = 0; i < n; i++)
                        {
                            if (i > 0)
                            {
                                buf[p++] = (byte)',';
                            }

                            buf[p++] = (byte)'0';
                            buf[p++] = (byte)'x';
                            p = Digits.Hex(buf, p, r.GetElement(f.Field, i));
                        }

                        buf[p++] = (byte)']';
                        break;
                }
            }

            return p;
        }

        /// <summary>
        /// Copies a prefix of at most <see cref="PrefixRoom"/> bytes kept in a <see cref="PrefixRoom"/>-byte array: one
        /// 32-byte move whatever its length (the line's room includes that slack), then the position moves by its length.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Copy(byte[] buf, int p, byte[] padded, int length)
        {
            if ((uint)p + PrefixRoom <= (uint)buf.Length && padded.Length == PrefixRoom)
            {
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buf), p), Unsafe.ReadUnaligned<System.Runtime.Intrinsics.Vector256<byte>>(ref MemoryMarshal.GetArrayDataReference(padded)));
            }
            else
            {
                padded.AsSpan(0, length).CopyTo(buf.AsSpan(p));
            }

            return p + length;
        }

        /// <summary>A format's plan, from a small cache keyed by event ID and checked by the format's identity.</summary>
        private FormatPlan PlanOf(EventFormat format)
        {
            // Text input's formats share no IDs of their own: they are keyed by identity instead.
            int key = format.Id >= 0 ? format.Id : RuntimeHelpers.GetHashCode(format);
            ref var entry = ref _plans[key & (_plans.Length - 1)];
            if (!ReferenceEquals(entry.Format, format))
            {
                var fields = format.EventFields.ToArray().Select(FieldPlan.Of).ToArray();
                entry = (format, new FormatPlan(Encoding.UTF8.GetBytes(format.FullName + ":"), fields, fields.Sum(f => Math.Max(f.Prefix.Length, f.PrefixLength) + 24)));
            }

            return entry.Plan!;
        }

        /// <summary>The UTF-8 of a comm, from a small cache keyed by pid and checked by the string's identity.</summary>
        private byte[] CommBytes(int pid, string comm)
        {
            ref var entry = ref _comms[pid & (_comms.Length - 1)];
            if (!ReferenceEquals(entry.Comm, comm))
            {
                entry = (comm, Encoding.UTF8.GetBytes(comm));
            }

            return entry.Bytes;
        }
    }

    /// <summary>
    /// Formats one JSON object per record (<see cref="EventsCommand"/>'s jsonl form) into the batch's block. One per
    /// thread: its JSON writer and KVM decoder are its own; each record's comm is the one the reader's thread looked up.
    /// </summary>
    private sealed class JsonLineFormatter : IBatchFormatter
    {
        private readonly Interop.Tracing.Kvm.KvmEventDecoder _decoder = new();

        public void FormatAll(Batch b)
        {
            var output = b.Output;
            using var json = new System.Text.Json.Utf8JsonWriter(output, EventsCommand.JsonOptions);
            for (int i = 0; i < b.Count; i++)
            {
                EventsCommand.WriteJson(json, b.Records.Record(i), _decoder);
                json.Flush();
                output.Room(1)[output.Used++] = (byte)'\n';
                json.Reset(output);
            }
        }
    }

    /// <summary>The room a prefix copy may overrun by: prefixes up to this length are kept padded to it.</summary>
    private const int PrefixRoom = 32;

    /// <summary>A format's <c>system:event:</c>, each field's plan, and the most its fixed part and numbers take.</summary>
    private sealed record FormatPlan(byte[] Name, FieldPlan[] Fields, int Bound);

    /// <summary>How a field is printed, decided once per format.</summary>
    private enum FieldStyle
    {
        /// <summary>64-bit and pointer/long numbers: <c>0x</c> and lower-case hex.</summary>
        Hex,

        /// <summary>Other signed numbers: decimal.</summary>
        Signed,

        /// <summary>Other unsigned numbers: decimal.</summary>
        Unsigned,

        /// <summary>char arrays and strings: the text, without a trailing newline.</summary>
        String,

        /// <summary>Other arrays: <c>[0x..,0x..]</c>.</summary>
        Array,
    }

    /// <summary>One field: its <c> name=</c> (padded to <see cref="PrefixRoom"/> when it fits) and how it prints.</summary>
    private sealed record FieldPlan(EventField Field, byte[] Prefix, int PrefixLength, FieldStyle Style)
    {
        public static FieldPlan Of(EventField f)
        {
            var prefix = Encoding.UTF8.GetBytes(" " + f.Name + "=");
            int length = prefix.Length;
            if (length <= PrefixRoom)
            {
                Array.Resize(ref prefix, PrefixRoom);
            }

            var style = f.IsNumber
                ? (f.IsLongOrPointer || f.Size == 8 ? FieldStyle.Hex : f.IsSigned ? FieldStyle.Signed : FieldStyle.Unsigned)
                : f.IsCharString ? FieldStyle.String : FieldStyle.Array;
            return new FieldPlan(f, prefix, length, style);
        }
    }

    /// <summary>Number formatting into a buffer the caller has made room in (two digits per table lookup).</summary>
    private static class Digits
    {
        private static ReadOnlySpan<byte> Pairs => "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

        private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

        /// <summary>Writes <paramref name="value"/> in decimal, zero-padded to <paramref name="width"/> digits.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Padded(byte[] buf, int p, ulong value, int width)
        {
            int n = Math.Max(width, CountDigits(value));
            int end = p + n;
            int at = end;
            while (value >= 100)
            {
                ulong q = value / 100;
                int pair = (int)(value - (q * 100)) * 2;
                value = q;
                buf[--at] = Pairs[pair + 1];
                buf[--at] = Pairs[pair];
            }

            if (value >= 10)
            {
                int pair = (int)value * 2;
                buf[--at] = Pairs[pair + 1];
                buf[--at] = Pairs[pair];
            }
            else
            {
                buf[--at] = (byte)('0' + (int)value);
            }

            while (at > p)
            {
                buf[--at] = (byte)'0';
            }

            return end;
        }

        public static int Decimal(byte[] buf, int p, ulong value) => Padded(buf, p, value, 1);

        /// <summary>Writes <paramref name="value"/> in decimal with a '-' for negatives, the digits zero-padded to <paramref name="width"/>.</summary>
        public static int Signed(byte[] buf, int p, long value, int width)
        {
            if (value >= 0)
            {
                return Padded(buf, p, (ulong)value, Math.Max(width, 1));
            }

            buf[p++] = (byte)'-';
            return Padded(buf, p, (ulong)(-(value + 1)) + 1, Math.Max(width, 1));
        }

        /// <summary>Writes <paramref name="value"/> in lower-case hex, no padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Hex(byte[] buf, int p, ulong value)
        {
            int n = value == 0 ? 1 : (67 - System.Numerics.BitOperations.LeadingZeroCount(value)) >> 2;
            int at = p + n;
            ref byte digits = ref MemoryMarshal.GetReference(HexDigits);
            do
            {
                buf[--at] = Unsafe.Add(ref digits, (int)(value & 15));
                value >>= 4;
            }
            while (at > p);

            return p + n;
        }

        /// <summary>Decimal digits of <paramref name="value"/> (1 for 0): from its bit length, corrected by one power of ten.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int CountDigits(ulong value)
        {
            // log10(2) ~ 1233/4096: the bit length gives the digit count or one more than it.
            int bits = 64 - System.Numerics.BitOperations.LeadingZeroCount(value | 1);
            int n = (bits * 1233) >> 12;
            return n + 1 - ((value | 1) < PowersOf10[n] ? 1 : 0);
        }

        private static ReadOnlySpan<ulong> PowersOf10 =>
        [
            1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
            100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
            10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
        ];
    }
}
