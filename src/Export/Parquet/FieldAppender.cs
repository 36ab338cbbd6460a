using System.Globalization;
using System.Text;
using FastRmp.Interop.Tracing;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// Reads one field of a binary record into its column (docs/export.md, "Types"): signed fields up to 32 bits and
/// unsigned up to 16 as INT32, unsigned 32-bit and every 64-bit field as INT64 (an unsigned value of 2^63 or more
/// reads negative: its bits are kept), character fields as strings, arrays and other data as text.
/// </summary>
internal abstract class FieldAppender(EventField field)
{
    public EventField Field { get; } = field;

    /// <summary>The Parquet column for <paramref name="field"/>, named <paramref name="name"/>.</summary>
    public static FieldAppender For(EventField field, string name)
    {
        if (field.IsNumber)
        {
            return (field.IsSigned && field.Size <= 4) || (!field.IsSigned && field.Size <= 2)
                ? new Int32Appender(field, name)
                : new Int64Appender(field, name);
        }

        return field.IsCharString ? new StringAppender(field, name) : new DataAppender(field, name);
    }

    public abstract ColumnBuffer NewBuffer(int capacity);

    /// <summary>Points the appender at <paramref name="column"/> (a block's buffer for this field; again after it grows).</summary>
    public abstract void Bind(ColumnBuffer column);

    public abstract void Append(int row, in TraceRecord record);

    private sealed class Int32Appender(EventField field, string name) : FieldAppender(field)
    {
        private readonly DataField _field = new DataField<int>(name);
        private int[] _values = [];

        public override ColumnBuffer NewBuffer(int capacity) => new ValueColumn<int>(_field, capacity);

        public override void Bind(ColumnBuffer column) => _values = ((ValueColumn<int>)column).Values;

        public override void Append(int row, in TraceRecord record) => _values[row] = (int)record.GetUInt64(Field);
    }

    private sealed class Int64Appender(EventField field, string name) : FieldAppender(field)
    {
        private readonly DataField _field = new DataField<long>(name);
        private long[] _values = [];

        public override ColumnBuffer NewBuffer(int capacity) => new ValueColumn<long>(_field, capacity);

        public override void Bind(ColumnBuffer column) => _values = ((ValueColumn<long>)column).Values;

        public override void Append(int row, in TraceRecord record) => _values[row] = (long)record.GetUInt64(Field);
    }

    private sealed class StringAppender(EventField field, string name) : FieldAppender(field)
    {
        private readonly DataField _field = new DataField<string>(name, true);
        private string?[] _values = [];

        public override ColumnBuffer NewBuffer(int capacity) => new StringColumn(_field, capacity);

        public override void Bind(ColumnBuffer column) => _values = ((StringColumn)column).Values;

        public override void Append(int row, in TraceRecord record) => _values[row] = record.GetString(Field);
    }

    /// <summary>Arrays of numbers as <c>[0x1,0x2]</c> (as <c>fastrmp events</c> prints them); other data as hex bytes.</summary>
    private sealed class DataAppender(EventField field, string name) : FieldAppender(field)
    {
        private readonly DataField _field = new DataField<string>(name, true);
        private readonly StringBuilder _text = new();
        private string?[] _values = [];

        public override ColumnBuffer NewBuffer(int capacity) => new StringColumn(_field, capacity);

        public override void Bind(ColumnBuffer column) => _values = ((StringColumn)column).Values;

        public override void Append(int row, in TraceRecord record)
        {
            var t = _text.Clear();
            int n = record.ElementCount(Field);
            if (n > 0)
            {
                t.Append('[');
                for (int i = 0; i < n; i++)
                {
                    t.Append(i == 0 ? "0x" : ",0x").Append(record.GetElement(Field, i).ToString("x", CultureInfo.InvariantCulture));
                }

                t.Append(']');
            }
            else
            {
                t.Append(Convert.ToHexStringLower(record.GetData(Field)));
            }

            _values[row] = t.ToString();
        }
    }
}
