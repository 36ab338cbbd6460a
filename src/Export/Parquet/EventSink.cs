using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Export.Parquet;

/// <summary>Appends records to one host's event tables, a table per format met.</summary>
internal sealed class EventSink(ParquetDataset dataset, string host, string source)
{
    /// <summary>Rows held in partly filled row groups, over every table, before they are all written out early.</summary>
    private const int MaxBufferedRows = 1 << 20;

    private readonly Dictionary<EventFormat, EventTable> _tables = new(ReferenceEqualityComparer.Instance);
    private readonly KvmEventDecoder _decoder = new();
    private EventFormat? _lastFormat;
    private EventTable? _last;
    private long _records;
    private bool _finished;

    public void Append(in TraceRecord r)
    {
        if (!ReferenceEquals(r.Format, _lastFormat))
        {
            if (!_tables.TryGetValue(r.Format, out _last))
            {
                _last = new EventTable(dataset, host, source, r, _decoder);
                _tables.Add(r.Format, _last);
                dataset.Adopt(_last.Table);
            }

            _lastFormat = r.Format;
        }

        _last!.Append(r, _decoder);
        if ((++_records & 0xFFFF) == 0 && _tables.Values.Sum(t => (long)t.Pending) > MaxBufferedRows)
        {
            foreach (var t in _tables.Values)
            {
                t.Flush();
            }
        }
    }

    /// <summary>Hands every partly filled row group to the writer and says what was exported.</summary>
    public EventExportSummary Finish(TraceFormatException? error)
    {
        if (!_finished)
        {
            _finished = true;
            foreach (var t in _tables.Values)
            {
                t.Flush();
            }
        }

        var events = _tables.Values
            .GroupBy(t => t.Format.System + ":" + t.Format.Name, StringComparer.Ordinal)
            .Select(g => new EventTableSummary(g.Key, g.Sum(t => t.Rows)))
            .OrderBy(e => e.Event, StringComparer.Ordinal)
            .ToList();
        return new EventExportSummary(host, _records, events, _tables.Values.Sum(t => t.ShortRecords), error);
    }
}

/// <summary>
/// A reader that exports every record it passes on (<see cref="ParquetDataset.Exporting"/>): one pass over a trace
/// both replays it and writes its events.
/// </summary>
public sealed class ExportingTraceReader : ITraceReader
{
    private readonly ITraceReader _inner;
    private readonly EventSink _sink;
    private TraceFormatException? _error;

    internal ExportingTraceReader(ITraceReader inner, EventSink sink)
    {
        _inner = inner;
        _sink = sink;
    }

    /// <inheritdoc />
    public TraceSourceInfo Info => _inner.Info;

    /// <inheritdoc />
    public TraceReadStats Stats => _inner.Stats;

    /// <inheritdoc />
    public TraceFormats Formats => _inner.Formats;

    /// <inheritdoc />
    public bool MoveNext(out TraceRecord record)
    {
        bool more;
        try
        {
            more = _inner.MoveNext(out record);
        }
        catch (TraceFormatException ex)
        {
            _error ??= ex;
            throw;
        }

        if (more)
        {
            _sink.Append(record);
        }

        return more;
    }

    /// <summary>Hands what is buffered to the dataset's writer and says what was exported (the damage that stopped reading, if any).</summary>
    public EventExportSummary Finish() => _sink.Finish(_error);

    /// <summary>Disposes the inner reader.</summary>
    public void Dispose() => _inner.Dispose();
}
