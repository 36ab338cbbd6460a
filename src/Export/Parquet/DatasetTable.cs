using Parquet;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// One partition of a dataset (<c>DIR/event=E/host=H/</c>): row blocks written as row groups of <c>part-N.parquet</c>
/// files, a new part every <see cref="RowGroupsPerPart"/> row groups. Written on the <see cref="BackgroundWriter"/>'s
/// thread only.
/// </summary>
internal sealed class DatasetTable : IDisposable
{
    /// <summary>Row groups per part file: 64 of 64 Ki rows is 4 Mi rows, a few tens of MB.</summary>
    public const int RowGroupsPerPart = 64;

    private readonly ParquetOptions _options;
    private readonly string _directory;
    private readonly ParquetSchema _schema;
    private readonly Dictionary<string, string> _metadata;
    private FileStream? _stream;
    private ParquetWriter? _writer;
    private int _part;
    private int _rowGroups;

    public DatasetTable(string directory, DataField[] fields, Dictionary<string, string> metadata)
    {
        _directory = directory;
        _schema = new ParquetSchema(fields);
        _options = Options(fields);
        _metadata = metadata;
    }

    /// <summary>Rows written so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Part files started so far.</summary>
    public int Parts => _part;

    public void Write(RowBlock block)
    {
        if (block.Count == 0)
        {
            return;
        }

        if (_writer is null || _rowGroups == RowGroupsPerPart)
        {
            Close();
            Directory.CreateDirectory(_directory);
            _stream = new FileStream(Path.Combine(_directory, $"part-{_part}.parquet"), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
            _part++;
            _rowGroups = 0;
            _writer = Wait(ParquetWriter.CreateAsync(_schema, _stream, _options));
            _writer.CustomMetadata = _metadata;
        }

        using (var group = _writer.CreateRowGroup())
        {
            foreach (var column in block.Columns)
            {
                Wait(column.WriteAsync(group, block.Count));
            }
        }

        _rowGroups++;
        Rows += block.Count;
    }

    public void Dispose() => Close();

    /// <summary>
    /// Snappy; integers DELTA_BINARY_PACKED; no dictionary encoding. Parquet.Net decides on a dictionary by scanning
    /// every value of a column for uniqueness, which cost more than the rest of the encoding (5.17 M rows, one column:
    /// a random INT64 0.24 s with it, 0.15 s without; a string column of 8 thread names 0.89 s, 0.35 s) for files of
    /// the same size once Snappy compressed them. Delta encoding makes the increasing timestamps and small numbers
    /// (cpu, pid, levels) nearly free and was faster than plain even on random 64-bit values (docs/benchmarks/export.md).
    /// </summary>
    private static ParquetOptions Options(DataField[] fields)
    {
        var options = new ParquetOptions { CompressionMethod = CompressionMethod.Snappy, DictionaryEncodingThreshold = 0 };
        foreach (var f in fields)
        {
            if (f.ClrType == typeof(int) || f.ClrType == typeof(long))
            {
                options.ColumnEncodingHints[f.Path.ToString()] = EncodingHint.DeltaBinaryPacked;
            }
        }

        return options;
    }

    private void Close()
    {
        if (_writer is not null)
        {
            Wait(_writer.DisposeAsync().AsTask());
            _writer = null;
        }

        _stream?.Dispose();
        _stream = null;
    }

    // Parquet.Net's API is asynchronous; writes here run on the writer's own thread, so waiting blocks nothing else.
    private static void Wait(Task task) => task.GetAwaiter().GetResult();

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
