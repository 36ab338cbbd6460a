using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Export.Parquet;

/// <summary>
/// A Hive-partitioned Parquet dataset of trace events and replay decisions (docs/export.md): one table per event type
/// (<c>ROOT/event=SYSTEM.NAME/host=HOST/part-N.parquet</c>), and from a replay <c>ROOT/decisions/host=HOST/</c> and
/// <c>ROOT/runs/host=HOST/</c>. DuckDB, Spark and Trino read it as it is.
/// </summary>
/// <remarks>
/// Records are streamed into row groups of <see cref="RowGroupRows"/> rows, encoded and written on a thread of the
/// dataset's own while the caller reads on; memory stays bounded by the row groups in flight, whatever the trace's
/// size. Not thread-safe: one caller at a time. Call <see cref="Complete"/> to finish the files and see write errors;
/// disposing without it also closes them, silently.
/// </remarks>
public sealed class ParquetDataset : IDisposable
{
    /// <summary>The version of the dataset's schema (docs/export.md), also in every file's key-value metadata as <c>fastrmp.schema_version</c>.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Rows per row group unless told otherwise: 64 Ki (readers were found fast with ~64K-row groups and slow with 16K).</summary>
    public const int DefaultRowGroupRows = 1 << 16;

    private readonly List<DatasetTable> _tables = [];
    private readonly HashSet<string> _hosts = new(StringComparer.Ordinal);
    private bool _completed;

    /// <summary>Starts a dataset in <paramref name="root"/> (created when missing).</summary>
    /// <param name="root">The dataset's directory; a host already in it is refused by the writing methods.</param>
    /// <param name="rowGroupRows">Rows per row group, at least 1.</param>
    public ParquetDataset(string root, int rowGroupRows = DefaultRowGroupRows)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupRows, 1);
        Root = Path.GetFullPath(root);
        RowGroupRows = rowGroupRows;
        Directory.CreateDirectory(Root);
        Metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["fastrmp.schema_version"] = SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["created_by_tool"] = "fastrmp " + (typeof(ParquetDataset).Assembly.GetName().Version?.ToString() ?? "0"),
        };
        Writer = new BackgroundWriter();
    }

    /// <summary>The dataset's directory (full path).</summary>
    public string Root { get; }

    /// <summary>Rows per row group.</summary>
    public int RowGroupRows { get; }

    /// <summary>
    /// Time spent encoding and writing Parquet, summed over the dataset's writer threads (it overlaps the reading):
    /// the writing cost the library imposes. Complete after <see cref="Complete"/>.
    /// </summary>
    public TimeSpan WriteTime => Writer.Busy;

    internal BackgroundWriter Writer { get; }

    internal Dictionary<string, string> Metadata { get; }

    /// <summary>
    /// Reads every record of <paramref name="reader"/> into the event tables of host <paramref name="host"/>, each row
    /// naming <paramref name="source"/> (the trace's file name).
    /// </summary>
    /// <returns>What was written; a trace damaged part way is exported up to the damage and the error returned in the summary.</returns>
    /// <exception cref="InvalidOperationException">The host is already in the dataset.</exception>
    public EventExportSummary WriteEvents(ITraceReader reader, string host, string source)
    {
        var exporting = Exporting(reader, host, source);
        TraceFormatException? error = null;
        try
        {
            while (exporting.MoveNext(out _))
            {
            }
        }
        catch (TraceFormatException ex)
        {
            error = ex; // what was read before the damage is still exported
        }

        var summary = exporting.Finish();
        return summary.Error is null && error is not null ? summary with { Error = error } : summary;
    }

    /// <summary>
    /// A reader over <paramref name="reader"/> that writes every record it passes on into the event tables of host
    /// <paramref name="host"/> (e.g. under a <see cref="Replayer"/>, so one pass both replays and exports); call
    /// <see cref="ExportingTraceReader.Finish"/> after the last record. Disposing it disposes <paramref name="reader"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The host is already in the dataset.</exception>
    public ExportingTraceReader Exporting(ITraceReader reader, string host, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ClaimHost(host);
        return new ExportingTraceReader(reader, new EventSink(this, host, source));
    }

    /// <summary>
    /// Records the decisions of every policy's model while <paramref name="replayer"/> runs (it must not have run yet),
    /// into the <c>decisions</c> table of host <paramref name="host"/>; call <see cref="ReplayDecisionWriter.WriteRuns"/>
    /// with the replay's results after it ran.
    /// </summary>
    /// <exception cref="InvalidOperationException">The host already has a replay in the dataset.</exception>
    public ReplayDecisionWriter RecordDecisions(Replayer replayer, string host, string source)
    {
        ArgumentNullException.ThrowIfNull(replayer);
        ClaimHost("replay:" + host, DatasetPaths.Escape(host), "decisions");
        var writer = new ReplayDecisionWriter(this, host, source);
        _tables.Add(writer.DecisionTable);
        _tables.Add(writer.RunTable);
        replayer.SessionCreated += (vm, session) =>
        {
            writer.Listen(vm, session);
        };
        return writer;
    }

    /// <summary>Writes what is buffered and closes every file; rethrows the first write error (an <see cref="IOException"/> for a full disk).</summary>
    public void Complete()
    {
        if (!_completed)
        {
            _completed = true;
            Writer.Complete(_tables);
        }
    }

    /// <summary>
    /// Closes the files (what was handed to the writer is written, so an export stopped by an error leaves readable
    /// files of the rows before it; a write error then is not thrown again) and stops the writer threads. Later calls do
    /// nothing.
    /// </summary>
    public void Dispose()
    {
        if (!_completed)
        {
            _completed = true;
            try
            {
                Writer.Complete(_tables);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // the caller is already unwinding from an error of its own, or chose not to Complete
            }
        }

        Writer.Dispose();
    }

    internal void Adopt(DatasetTable table) => _tables.Add(table);

    private void ClaimHost(string host, string? escaped = null, string? table = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (!_hosts.Add(host))
        {
            throw new InvalidOperationException($"host '{host}' is written twice; give each trace its own host name");
        }

        escaped ??= DatasetPaths.Escape(host);
        var existing = table is null
            ? Directory.EnumerateDirectories(Root, "event=*").Select(d => Path.Combine(d, "host=" + escaped)).FirstOrDefault(Directory.Exists)
            : Path.Combine(Root, table, "host=" + escaped) is { } path && Directory.Exists(path) ? path : null;
        if (existing is not null)
        {
            throw new InvalidOperationException($"{existing}: host '{host}' is already in the dataset; remove it or choose another host name");
        }
    }
}

/// <summary>What <see cref="ParquetDataset.WriteEvents"/> wrote for one trace.</summary>
/// <param name="Host">The host partition.</param>
/// <param name="Records">Records read and written.</param>
/// <param name="Events">Rows per event type (<c>system:name</c>), by name.</param>
/// <param name="ShortRecords">Binary records whose payload was shorter than their format: their missing fields were written as 0.</param>
/// <param name="Error">The damage that stopped reading, or null when the whole trace was read.</param>
public sealed record EventExportSummary(string Host, long Records, IReadOnlyList<EventTableSummary> Events, long ShortRecords, TraceFormatException? Error);

/// <summary>Rows written for one event type.</summary>
/// <param name="Event">The event (<c>system:name</c>).</param>
/// <param name="Rows">Rows written.</param>
public sealed record EventTableSummary(string Event, long Rows);
