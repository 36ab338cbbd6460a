using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace FastRmp.Interop.Tracing.Kvm;

/// <summary>
/// Decodes records into typed KVM and QEMU events. Binary records are bound by field name once per format (the
/// file's own offsets); text records are parsed from each print-format generation (traces.md 1.5) or from
/// <c>trace-cmd report -R</c> <c>field=value</c> lists.
/// </summary>
/// <remarks>
/// One decoder per reader (it caches bindings by <see cref="EventFormat.Index"/>); not thread-safe. No allocation per
/// binary kernel event; QEMU events allocate only for their string members.
/// </remarks>
public sealed partial class KvmEventDecoder
{
    private const int MaxValues = 8;
    private Binding?[] _bindings = new Binding?[64];
    private readonly List<string> _formatErrors = [];

    /// <summary>The typed kind of a record, or <see cref="KvmEventKind.None"/>.</summary>
    public KvmEventKind Classify(in TraceRecord record)
    {
        if (!record.IsText)
        {
            var b = Bind(record.Format);
            return b.IsPrint ? QemuKind(record) : b.Kind;
        }

        string name = record.Format.Name;
        if (KvmEventSpecs.ByName.TryGetValue(name, out var spec))
        {
            return spec.Kind;
        }

        return name is "print" or "tracing_mark_write" ? QemuKind(record) : KvmEventKind.None;
    }

    private Binding Bind(EventFormat format)
    {
        int i = format.Index;
        if (i < 0)
        {
            return CreateBinding(format);
        }

        if (i >= _bindings.Length)
        {
            Array.Resize(ref _bindings, Math.Max(i + 1, _bindings.Length * 2));
        }

        return _bindings[i] ??= CreateBinding(format);
    }

    /// <summary>
    /// Formats of typed KVM events that FastRmp cannot decode (a needed field missing or not a number), one line each:
    /// their records are classified <see cref="KvmEventKind.None"/> instead of ending the read.
    /// </summary>
    public IReadOnlyList<string> FormatErrors => _formatErrors;

    private Binding Unusable(EventFormat format, string why)
    {
        string line = $"format of {format.FullName} (ID {format.Id}) {why}; its records are not decoded";
        if (!_formatErrors.Contains(line))
        {
            _formatErrors.Add(line); // once per format: formats without an index are bound again per record
        }

        return new Binding(KvmEventKind.None, [], null, false);
    }

    private Binding CreateBinding(EventFormat format)
    {
        if (format.System == "ftrace" && format.Name == "print")
        {
            return new Binding(KvmEventKind.None, [], format.Find("buf"), true);
        }

        if (!KvmEventSpecs.ByName.TryGetValue(format.Name, out var spec) || format.System is not ("kvm" or "kvmmmu" or "sched"))
        {
            return new Binding(KvmEventKind.None, [], null, false);
        }

        var fields = new EventField?[spec.Values.Length];
        for (int v = 0; v < spec.Values.Length; v++)
        {
            var s = spec.Values[v];
            var f = format.Find(s.Field);
            foreach (var alt in s.Alternates)
            {
                f ??= format.Find(alt);
            }

            // A format the kernel never used (a field missing or not a number) costs only its own records: they are
            // not typed events, the reason is kept in FormatErrors, and the rest of the trace decodes (issue 18, item 8;
            // the fuzzer found this throw ending a whole trace.dat read).
            if (f is null && s.Required)
            {
                return Unusable(format, $"has no field '{s.Field}', which FastRmp needs to decode it");
            }

            if (f is not null && !f.IsNumber)
            {
                return Unusable(format, $"field '{s.Field}' is not a number ({f.CType}, size {f.Size})");
            }

            fields[v] = f;
        }

        return new Binding(spec.Kind, fields, null, false);
    }

    /// <summary>
    /// The raw values of a typed kernel event in tracepoint field order (see <see cref="FieldNames"/>): for binary input
    /// read by field name, for text parsed from the payload. Bit i of <paramref name="present"/> is set when value i was
    /// found. Returns false for records that are not typed kernel events (QEMU events have no field list).
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="kind">The event kind found.</param>
    /// <param name="values">At least 8 slots.</param>
    /// <param name="present">Which values were found.</param>
    public bool TryGetValues(in TraceRecord record, out KvmEventKind kind, Span<ulong> values, out uint present)
    {
        kind = Classify(record);
        present = 0;
        return kind is not (KvmEventKind.None or >= KvmEventKind.QemuSetUserMemory) && values.Length >= MaxValues && TryValues(record, kind, values, out present);
    }

    /// <summary>The tracepoint field names of a typed kernel event, in the order <see cref="TryGetValues"/> fills them.</summary>
    public static IReadOnlyList<string> FieldNames(KvmEventKind kind)
    {
        foreach (var (_, spec) in KvmEventSpecs.ByName)
        {
            if (spec.Kind == kind)
            {
                return [.. spec.Values.Select(v => v.Field)];
            }
        }

        return [];
    }

    /// <summary>Reads the spec's values into <paramref name="values"/>; bit i of the result is set when value i was found.</summary>
    private bool TryValues(in TraceRecord record, KvmEventKind kind, Span<ulong> values, out uint present)
    {
        present = 0;
        values.Clear();
        if (!record.IsText)
        {
            var b = Bind(record.Format);
            if (b.Kind != kind)
            {
                return false;
            }

            var payload = record.Payload;
            if (payload.Length >= b.End)
            {
                // Every bound field lies inside the payload: read them at their cached offsets without further checks.
                ref byte start = ref MemoryMarshal.GetReference(payload);
                var slots = b.Slots;
                bool be = record.IsBigEndian;
                for (int i = 0; i < slots.Length && i < values.Length; i++)
                {
                    var slot = slots[i];
                    if (slot.Size != 0)
                    {
                        values[i] = Scalar.Read(ref Unsafe.Add(ref start, slot.Offset), slot.Size, slot.IsSigned, be);
                    }
                }

                present = b.Found;
                return true;
            }

            for (int i = 0; i < b.Fields.Length; i++)
            {
                var f = b.Fields[i];
                if (f is not null && record.HasField(f))
                {
                    values[i] = record.GetUInt64(f);
                    present |= 1u << i;
                }
            }

            return true;
        }

        if (!KvmEventSpecs.ByName.TryGetValue(record.Format.Name, out var spec) || spec.Kind != kind)
        {
            return false;
        }

        var text = record.Text;
        for (int i = 0; i < spec.Values.Length; i++)
        {
            var s = spec.Values[i];
            ulong v;
            if (TextValues.TryFind(text, s.Field, out var token, out bool assigned) && assigned && TextValues.TryNumber(token, s.RawRadix, out v))
            {
                // trace-cmd report -R: field=value
                values[i] = v;
                present |= 1u << i;
            }
            else if (s.TextKey.Length > 0 && TextValues.TryGet(text, s.TextKey, s.Radix, out v))
            {
                values[i] = v;
                present |= 1u << i;
            }
        }

        PositionalTextValues(kind, text, values, ref present);
        return true;
    }

    /// <summary>Values printed without a keyword: <c>A -- B [attr]</c> ranges and <c>reason X (n)</c>.</summary>
    private static void PositionalTextValues(KvmEventKind kind, ReadOnlySpan<char> text, Span<ulong> values, ref uint present)
    {
        if (kind is KvmEventKind.UnmapHvaRange or KvmEventKind.SetMemAttributes && (present & 0b11) != 0b11
            && TextValues.TryRange(text, out values[0], out values[1]))
        {
            present |= 0b11;
        }

        if (kind == KvmEventKind.SetMemAttributes && (present & 0b100) == 0)
        {
            int open = text.LastIndexOf('[');
            int close = text.LastIndexOf(']');
            if (open >= 0 && close > open && TextValues.TryNumber(text[(open + 1)..close], 16, out values[2]))
            {
                present |= 0b100;
            }
        }

        if (kind == KvmEventKind.UserspaceExit && (present & 0b11) == 0
            && TextValues.TryUserspaceExit(text, out values[0], out bool hasReason, out long errno))
        {
            values[1] = (ulong)errno;
            present |= hasReason ? 0b11u : 0b10u;
        }
    }

    private KvmEventKind QemuKind(in TraceRecord record)
    {
        Span<char> scratch = stackalloc char[64];
        var text = MarkerText(record, scratch);
        var word = TextValues.FirstWord(text);
        foreach (var (name, kind) in KvmEventSpecs.Qemu)
        {
            if (word.SequenceEqual(name))
            {
                return kind;
            }
        }

        return KvmEventKind.None;
    }

    /// <summary>The marker text of a print record (binary: the buf bytes as Latin-1 into <paramref name="scratch"/>).</summary>
    private ReadOnlySpan<char> MarkerText(in TraceRecord record, Span<char> scratch)
    {
        if (record.IsText)
        {
            return TextValues.MarkerText(record.Text);
        }

        var b = Bind(record.Format);
        if (!b.IsPrint || b.Buf is null)
        {
            return default;
        }

        var bytes = record.GetData(b.Buf);
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
        {
            bytes = bytes[..nul];
        }

        int n = Math.Min(bytes.Length, scratch.Length);
        return scratch[..Encoding.Latin1.GetChars(bytes[..n], scratch)];
    }

    /// <summary>How one format is decoded: its kind, the spec's fields in order, and their offsets cached for the fast path.</summary>
    private sealed class Binding
    {
        public Binding(KvmEventKind kind, EventField?[] fields, EventField? buf, bool isPrint)
        {
            Kind = kind;
            Fields = fields;
            Buf = buf;
            IsPrint = isPrint;
            Slots = new FieldSlot[fields.Length];
            for (int i = 0; i < fields.Length; i++)
            {
                if (fields[i] is { } f)
                {
                    Slots[i] = new FieldSlot(f.Offset, f.Size, f.IsSigned);
                    End = Math.Max(End, f.Offset + f.Size);
                    Found |= 1u << i;
                }
            }
        }

        public KvmEventKind Kind { get; }

        public EventField?[] Fields { get; }

        public EventField? Buf { get; }

        public bool IsPrint { get; }

        /// <summary>Offset, size and signedness of each field (size 0: the format lacks it).</summary>
        public FieldSlot[] Slots { get; }

        /// <summary>The end of the last field: a payload at least this long holds every field.</summary>
        public int End { get; }

        /// <summary>Bit i set when the format has value i.</summary>
        public uint Found { get; }
    }

    private readonly record struct FieldSlot(int Offset, int Size, bool IsSigned);
}
