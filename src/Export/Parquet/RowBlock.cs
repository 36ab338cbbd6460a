namespace FastRmp.Export.Parquet;

/// <summary>Rows of one table being filled: one buffer per column, in the schema's order.</summary>
internal sealed class RowBlock(ColumnBuffer[] columns, int capacity)
{
    public ColumnBuffer[] Columns { get; } = columns;

    public int Capacity { get; private set; } = capacity;

    public int Count { get; set; }

    public bool IsFull => Count == Capacity;

    /// <summary>Grows every column to <paramref name="capacity"/> rows (small tables start small: most event types are rare).</summary>
    public void Grow(int capacity)
    {
        foreach (var c in Columns)
        {
            c.Resize(capacity);
        }

        Capacity = capacity;
    }

    /// <summary>An empty block of the same columns with room for <paramref name="capacity"/> rows.</summary>
    public RowBlock Fresh(int capacity) => new([.. Columns.Select(c => c.Fresh(capacity))], capacity);
}
