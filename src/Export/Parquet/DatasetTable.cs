using Parquet;
using Parquet.Schema;

namespace FastRmp.Export.Parquet;

/// <summary>
/// One partition of a dataset (<c>DIR/event=E/host=H/</c>): row blocks written as row groups of <c>part-N.parquet</c>
/// files. Each of the <see cref="BackgroundWriter"/>'s lanes writes its own files (lane L's k-th file is
/// <c>part-(k * Lanes + L)</c>), a new one every <see cref="RowGroupsPerPart"/> row groups. A lane's state is touched
/// by that lane's thread only; <see cref="NextLane"/> by the thread that enqueues.
/// </summary>
internal sealed class DatasetTable : IDisposable
{
    /// <summary>Row groups per part file: 64 of 64 Ki rows is 4 Mi rows, a few tens of MB.</summary>
    public const int RowGroupsPerPart = 64;

    private readonly ParquetOptions _options;
    private readonly string _directory;
    private readonly ParquetSchema _schema;
    private readonly Dictionary<string, string> _metadata;
    private readonly LaneFiles[] _lanes = new LaneFiles[BackgroundWriter.Lanes];
    private int _blocks;

    public DatasetTable(string directory, DataField[] fields, Dictionary<string, string> metadata)
    {
        _directory = directory;
        _schema = new ParquetSchema(fields);
        _options = Options(fields);
        _metadata = metadata;
        for (int i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = new LaneFiles();
        }
    }

    /// <summary>Rows written so far (complete once the writer has completed).</summary>
    public long Rows => _lanes.Sum(l => Volatile.Read(ref l.Rows));

    /// <summary>Part files started so far (complete once the writer has completed).</summary>
    public int Parts => _lanes.Sum(l => Volatile.Read(ref l.Parts));

    /// <summary>The lane of the next non-empty block: the lanes in turn.</summary>
    public int NextLane() => _blocks++ % BackgroundWriter.Lanes;

    public void Write(int lane, RowBlock block)
    {
        if (block.Count == 0)
        {
            return;
        }

        var files = _lanes[lane];
        if (files.Writer is null || files.RowGroups == RowGroupsPerPart)
        {
            files.Close();
            Directory.CreateDirectory(_directory);
            int part = (files.Parts * BackgroundWriter.Lanes) + lane;
            files.Stream = new FileStream(Path.Combine(_directory, $"part-{part}.parquet"), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
            Volatile.Write(ref files.Parts, files.Parts + 1);
            files.RowGroups = 0;
            files.Writer = Wait(ParquetWriter.CreateAsync(_schema, files.Stream, _options));
            files.Writer.CustomMetadata = _metadata;
        }

        using (var group = files.Writer.CreateRowGroup())
        {
            foreach (var column in block.Columns)
            {
                Wait(column.WriteAsync(group, block.Count));
            }
        }

        files.RowGroups++;
        Volatile.Write(ref files.Rows, files.Rows + block.Count);
    }

    /// <summary>Closes the file of one lane (on that lane's thread).</summary>
    public void Close(int lane) => _lanes[lane].Close();

    /// <summary>Closes every lane's file (once the lanes' threads have ended).</summary>
    public void Dispose()
    {
        foreach (var files in _lanes)
        {
            files.Close();
        }
    }

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

    // Parquet.Net's API is asynchronous; writes here run on the writer's own thread, so waiting blocks nothing else.
    private static void Wait(Task task) => task.GetAwaiter().GetResult();

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    /// <summary>The part file a lane is writing, and what it wrote.</summary>
    private sealed class LaneFiles
    {
        public FileStream? Stream;
        public ParquetWriter? Writer;
        public int RowGroups;
        public int Parts;
        public long Rows;

        public void Close()
        {
            if (Writer is not null)
            {
                Wait(Writer.DisposeAsync().AsTask());
                Writer = null;
            }

            Stream?.Dispose();
            Stream = null;
        }
    }
}
