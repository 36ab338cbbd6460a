using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Export.Perfetto;

/// <summary>
/// A Perfetto trace file (<c>.pftrace</c>, the <c>Trace</c> protobuf that ui.perfetto.dev and trace_processor open)
/// written as the input is read: a host trace's records as track events on their threads' tracks, and the model's run
/// of a replay (per model, per vCPU tracks of faults and exits, counter tracks of private pages, PSMASHes and RMP
/// faults). docs/perfetto.md describes the layout.
/// </summary>
/// <remarks>
/// Streams: memory stays bounded (an output buffer, interned names, one track per thread and vCPU up to a limit) and
/// the file is written as it goes. The protobuf is encoded by a small hand-written writer of the few fields used.
/// Not thread-safe: records and the model's decisions arrive on the thread that runs the reader or the replay.
/// Call <see cref="Complete"/> when the input is done, then dispose.
/// </remarks>
public sealed class PerfettoTrace : IDisposable
{
    private readonly PerfettoWriter _writer;
    private readonly RecordEvents _records;
    private ModelEvents? _model;
    private bool _completed;

    /// <summary>Writes to <paramref name="output"/> (disposed with this unless <paramref name="leaveOpen"/>).</summary>
    public PerfettoTrace(Stream output, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        _writer = new PerfettoWriter(output, leaveOpen);
        _records = new RecordEvents(_writer);
    }

    /// <summary>Creates (or replaces) the file at <paramref name="path"/>.</summary>
    public static PerfettoTrace Create(string path)
        => new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0));

    /// <summary>Trace records written.</summary>
    public long Records => _records.Records;

    /// <summary>Instants of the model's run written (faults, exits, RMP faults, conversions, launch updates).</summary>
    public long ModelEvents => _model?.Events ?? 0;

    /// <summary>Counter values of the model's run written.</summary>
    public long CounterSamples => _model?.Samples ?? 0;

    /// <summary>Models (policy, kernel and VM) whose run is written.</summary>
    public int Models => _model?.Models ?? 0;

    /// <summary>Packets written so far.</summary>
    public long Packets => _writer.Packets;

    /// <summary>Writes one record as an instant on its thread's track.</summary>
    public void WriteRecord(in TraceRecord record) => _records.Write(record);

    /// <summary>
    /// A reader that returns <paramref name="reader"/>'s records and writes each one here as it passes (for a replay
    /// whose trace should be in the file too); disposing it leaves <paramref name="reader"/> open.
    /// </summary>
    public ITraceReader Tee(ITraceReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new TeeReader(reader, this);
    }

    /// <summary>
    /// Records the run of every model <paramref name="replayer"/> creates (call before it runs). The replayer's
    /// <see cref="Replayer.Recorder"/>, if set, keeps receiving the first model's decisions.
    /// </summary>
    public void Attach(Replayer replayer)
    {
        ArgumentNullException.ThrowIfNull(replayer);
        if (_model is not null)
        {
            throw new InvalidOperationException("A Perfetto trace records one replay.");
        }

        _model = new ModelEvents(_writer);
        _model.Attach(replayer, replayer.Recorder);
    }

    /// <summary>Ends the model's open events, takes the last counter samples and writes what is buffered.</summary>
    /// <remarks>Call it before disposing the replayer: the last samples read its models (after that they are left out).</remarks>
    public void Complete()
    {
        if (!_completed)
        {
            _completed = true;
            _model?.Complete();
        }

        _writer.Flush();
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();

    private sealed class TeeReader(ITraceReader inner, PerfettoTrace trace) : ITraceReader
    {
        public TraceSourceInfo Info => inner.Info;

        public TraceReadStats Stats => inner.Stats;

        public TraceFormats Formats => inner.Formats;

        public bool MoveNext(out TraceRecord record)
        {
            if (!inner.MoveNext(out record))
            {
                return false;
            }

            trace.WriteRecord(record);
            return true;
        }

        public void Dispose()
        {
        }
    }
}
