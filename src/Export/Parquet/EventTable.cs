using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// The rows of one event type from one host (<c>event=SYSTEM.NAME/host=HOST</c>): the common columns (ts, cpu, pid,
/// tgid, comm, source), then the format's fields by name (binary input), or for text input the fields a typed KVM
/// event decodes to (as the binary format names them), else the <c>name=value</c> pairs of a payload made of them
/// (the first record's names and kinds), and the payload as <c>text</c>.
/// </summary>
internal sealed class EventTable
{
    /// <summary>Column names every event table has; an event field of one of these names is written as <c>field_NAME</c>.</summary>
    public static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase) { "ts", "cpu", "pid", "tgid", "comm", "source", "text", "event", "host" };

    private const int CommonColumns = 6;
    private const int FirstCapacity = 1024;
    private readonly ParquetDataset _dataset;
    private readonly int _rowGroupRows;
    private readonly string _source;
    private readonly FieldAppender[] _fields;
    private readonly int _minPayload;
    private readonly KvmEventKind _kind;
    private readonly DataField[] _decoded;
    private readonly bool _text;
    private readonly Dictionary<string, int>? _pairIndex;
    private readonly bool[] _pairIsNumber = [];
    private readonly DataField[] _pairFields = [];
    private object[] _pairValues = [];
    private RowBlock _block;
    private RowBlock? _spare;
    private long[] _ts = [];
    private int[] _cpu = [];
    private int[] _pid = [];
    private int[] _tgid = [];
    private string?[] _comm = [];
    private string?[] _sourceColumn = [];
    private long?[][] _decodedValues = [];
    private string?[] _textValues = [];

    public EventTable(ParquetDataset dataset, string host, string source, in TraceRecord first, KvmEventDecoder decoder)
    {
        _dataset = dataset;
        _rowGroupRows = dataset.RowGroupRows;
        _source = source;
        var format = first.Format;
        Format = format;
        _text = first.IsText;
        var fields = new List<DataField>
        {
            new DataField<long>("ts"), new DataField<int>("cpu"), new DataField<int>("pid"), new DataField<int>("tgid"),
            new DataField<string>("comm", true), new DataField<string>("source", true),
        };
        var names = new HashSet<string>(Reserved, StringComparer.OrdinalIgnoreCase);
        if (_text)
        {
            _fields = [];
            Span<ulong> values = stackalloc ulong[8];
            _decoded = decoder.TryGetValues(first, out _kind, values, out uint present) && present != 0
                ? [.. KvmEventDecoder.FieldNames(_kind).Select(n => (DataField)new DataField<long?>(ColumnName(n, names)))]
                : [];
            if (_decoded.Length == 0)
            {
                _kind = KvmEventKind.None;
                var pairs = new List<(string Name, bool Number)>();
                if (TextPairs.TryRead(first.Text, ref pairs, static (ref list, name, value) => list.Add((name.ToString(), TextPairs.Number(value) is not null))))
                {
                    _pairIndex = new Dictionary<string, int>(StringComparer.Ordinal);
                    foreach (var (name, _) in pairs)
                    {
                        _pairIndex.TryAdd(name, _pairIndex.Count);
                    }

                    var kept = pairs.DistinctBy(p => p.Name).ToList();
                    _pairIsNumber = [.. kept.Select(p => p.Number)];
                    _pairFields = [.. kept.Select(p => p.Number ? (DataField)new DataField<long?>(ColumnName(p.Name, names)) : new DataField<string>(ColumnName(p.Name, names), true))];
                }
            }

            fields.AddRange(_decoded);
            fields.AddRange(_pairFields);
            fields.Add(new DataField<string>("text", true));
        }
        else
        {
            _decoded = [];
            _fields = [.. format.EventFields.Select(f => FieldAppender.For(f, ColumnName(f.Name, names)))];
            _minPayload = format.Fields.Where(f => f.Kind == FieldKind.Scalar).Select(f => f.Offset + f.Size).DefaultIfEmpty(0).Max();
            fields.AddRange(_fields.Select(f => f.NewBuffer(0).Field));
        }

        Directory = Path.Combine(dataset.Root, "event=" + DatasetPaths.Escape(format.System + "." + format.Name), "host=" + DatasetPaths.Escape(host));
        Table = new DatasetTable(Directory, [.. fields], dataset.Metadata);
        _block = NewBlock(fields, Math.Min(FirstCapacity, _rowGroupRows));
        Bind(_block);
    }

    public EventFormat Format { get; }

    public string Directory { get; }

    public DatasetTable Table { get; }

    /// <summary>Rows appended.</summary>
    public long Rows { get; private set; }

    /// <summary>Binary records whose payload was shorter than their format (their missing fields are written as 0).</summary>
    public long ShortRecords { get; private set; }

    /// <summary>Rows waiting in the block being filled.</summary>
    public int Pending => _block.Count;

    public void Append(in TraceRecord r, KvmEventDecoder decoder)
    {
        if (_block.Count == _block.Capacity)
        {
            MakeRoom();
        }

        int row = _block.Count;
        _ts[row] = (long)r.Timestamp;
        _cpu[row] = r.Cpu;
        _pid[row] = r.Pid;
        _tgid[row] = r.Tgid;
        _comm[row] = r.Comm;
        _sourceColumn[row] = _source;
        if (_text)
        {
            AppendText(row, r, decoder);
        }
        else
        {
            if (r.Payload.Length < _minPayload)
            {
                ShortRecords++;
            }

            foreach (var f in _fields)
            {
                f.Append(row, r);
            }
        }

        _block.Count = row + 1;
        Rows++;
    }

    /// <summary>Hands the rows filled so far to the writer as a row group (at the end, or when too much is buffered).</summary>
    public void Flush()
    {
        if (_block.Count == 0)
        {
            return;
        }

        var full = _block;
        _block = Interlocked.Exchange(ref _spare, null) ?? full.Fresh(full.Capacity);
        Bind(_block);
        _dataset.Writer.Enqueue(Table, full, b => Volatile.Write(ref _spare, b));
    }

    private void MakeRoom()
    {
        if (_block.Capacity < _rowGroupRows)
        {
            _block.Grow(Math.Min(_rowGroupRows, _block.Capacity * 4));
            Bind(_block);
        }
        else
        {
            Flush();
        }
    }

    private void AppendText(int row, in TraceRecord r, KvmEventDecoder decoder)
    {
        _textValues[row] = r.Text.ToString();
        if (_pairIndex is not null)
        {
            for (int i = 0; i < _pairValues.Length; i++)
            {
                if (_pairIsNumber[i])
                {
                    ((long?[])_pairValues[i])[row] = null;
                }
                else
                {
                    ((string?[])_pairValues[i])[row] = null;
                }
            }

            var state = (Table: this, Row: row);
            TextPairs.TryRead(r.Text, ref state, static (ref s, name, value) => s.Table.SetPair(s.Row, name, value));
            return;
        }

        if (_decoded.Length == 0)
        {
            return;
        }

        Span<ulong> values = stackalloc ulong[8];
        bool ok = decoder.TryGetValues(r, out var kind, values, out uint present) && kind == _kind;
        for (int i = 0; i < _decodedValues.Length; i++)
        {
            _decodedValues[i][row] = ok && (present & (1u << i)) != 0 ? (long)values[i] : null;
        }
    }

    private void SetPair(int row, ReadOnlySpan<char> name, ReadOnlySpan<char> value)
    {
        if (!_pairIndex!.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out int i))
        {
            return; // a name the first record did not have: in the text column only
        }

        if (_pairIsNumber[i])
        {
            ((long?[])_pairValues[i])[row] = TextPairs.Number(value);
        }
        else
        {
            ((string?[])_pairValues[i])[row] = value.ToString();
        }
    }

    private RowBlock NewBlock(List<DataField> fields, int capacity)
    {
        var columns = new ColumnBuffer[fields.Count];
        columns[0] = new ValueColumn<long>(fields[0], capacity);
        columns[1] = new ValueColumn<int>(fields[1], capacity);
        columns[2] = new ValueColumn<int>(fields[2], capacity);
        columns[3] = new ValueColumn<int>(fields[3], capacity);
        columns[4] = new StringColumn(fields[4], capacity);
        columns[5] = new StringColumn(fields[5], capacity);
        int next = CommonColumns;
        if (_text)
        {
            foreach (var d in _decoded)
            {
                columns[next++] = new NullableColumn<long>(d, capacity);
            }

            for (int i = 0; i < _pairFields.Length; i++)
            {
                columns[next++] = _pairIsNumber[i] ? new NullableColumn<long>(_pairFields[i], capacity) : new StringColumn(_pairFields[i], capacity);
            }

            columns[next] = new StringColumn(fields[next], capacity);
        }
        else
        {
            foreach (var f in _fields)
            {
                columns[next++] = f.NewBuffer(capacity);
            }
        }

        return new RowBlock(columns, capacity);
    }

    private void Bind(RowBlock block)
    {
        var c = block.Columns;
        _ts = ((ValueColumn<long>)c[0]).Values;
        _cpu = ((ValueColumn<int>)c[1]).Values;
        _pid = ((ValueColumn<int>)c[2]).Values;
        _tgid = ((ValueColumn<int>)c[3]).Values;
        _comm = ((StringColumn)c[4]).Values;
        _sourceColumn = ((StringColumn)c[5]).Values;
        int next = CommonColumns;
        if (_text)
        {
            _decodedValues = new long?[_decoded.Length][];
            for (int i = 0; i < _decoded.Length; i++)
            {
                _decodedValues[i] = ((NullableColumn<long>)c[next++]).Values;
            }

            _pairValues = new object[_pairFields.Length];
            for (int i = 0; i < _pairFields.Length; i++)
            {
                _pairValues[i] = _pairIsNumber[i] ? ((NullableColumn<long>)c[next++]).Values : ((StringColumn)c[next++]).Values;
            }

            _textValues = ((StringColumn)c[next]).Values;
        }
        else
        {
            foreach (var f in _fields)
            {
                f.Bind(c[next++]);
            }
        }
    }

    private static string ColumnName(string field, HashSet<string> taken)
    {
        string name = DatasetPaths.ColumnName(field);
        if (!taken.Add(name))
        {
            name = "field_" + name;
            int n = 2;
            string baseName = name;
            while (!taken.Add(name))
            {
                name = baseName + "_" + n++;
            }
        }

        return name;
    }
}
