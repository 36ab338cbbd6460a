using Parquet;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// One column of a row group being filled: typed values in a plain array, written to Parquet in one call when the
/// row group is full. A buffer is filled on the reading thread and written on the writer thread, never both at once.
/// </summary>
internal abstract class ColumnBuffer(DataField field)
{
    public DataField Field { get; } = field;

    /// <summary>Makes room for <paramref name="capacity"/> rows, keeping those filled.</summary>
    public abstract void Resize(int capacity);

    /// <summary>An empty buffer of the same column with room for <paramref name="capacity"/> rows.</summary>
    public abstract ColumnBuffer Fresh(int capacity);

    public abstract Task WriteAsync(ParquetRowGroupWriter writer, int rows);
}

/// <summary>A column of non-null numbers.</summary>
internal sealed class ValueColumn<T>(DataField field, int capacity) : ColumnBuffer(field)
    where T : struct
{
    public T[] Values = new T[capacity];

    public override void Resize(int capacity) => Array.Resize(ref Values, capacity);

    public override ColumnBuffer Fresh(int capacity) => new ValueColumn<T>(Field, capacity);

    public override Task WriteAsync(ParquetRowGroupWriter writer, int rows) => writer.WriteAsync(Field, new ReadOnlyMemory<T>(Values, 0, rows));
}

/// <summary>A column of numbers that may be missing (null).</summary>
internal sealed class NullableColumn<T>(DataField field, int capacity) : ColumnBuffer(field)
    where T : struct
{
    public T?[] Values = new T?[capacity];

    public override void Resize(int capacity) => Array.Resize(ref Values, capacity);

    public override ColumnBuffer Fresh(int capacity) => new NullableColumn<T>(Field, capacity);

    public override Task WriteAsync(ParquetRowGroupWriter writer, int rows) => writer.WriteAsync(Field, new ReadOnlyMemory<T?>(Values, 0, rows));
}

/// <summary>A column of strings (null where missing).</summary>
internal sealed class StringColumn(DataField field, int capacity) : ColumnBuffer(field)
{
    public string?[] Values = new string?[capacity];

    public override void Resize(int capacity) => Array.Resize(ref Values, capacity);

    public override ColumnBuffer Fresh(int capacity) => new StringColumn(Field, capacity);

    public override Task WriteAsync(ParquetRowGroupWriter writer, int rows)
    {
        IReadOnlyCollection<string> values = new ArraySegment<string?>(Values, 0, rows)!;
        return writer.WriteAsync(Field, values);
    }
}
