namespace FastRmp.Interop.Tracing;

/// <summary>A stream of trace records from any supported input (see <see cref="TraceFile.OpenReader(string)"/>).</summary>
public interface ITraceReader : IDisposable
{
    /// <summary>The input's format, version, compression, CPUs and clock.</summary>
    TraceSourceInfo Info { get; }

    /// <summary>Lost events and damage seen so far.</summary>
    TraceReadStats Stats { get; }

    /// <summary>The formats known to the reader (a trace.dat's own formats; for text, one field-less format per event name seen).</summary>
    TraceFormats Formats { get; }

    /// <summary>Moves to the next record; the record is valid until the next call.</summary>
    /// <exception cref="TraceFormatException">Damage that cannot be skipped; the message names the offset or line.</exception>
    bool MoveNext(out TraceRecord record);
}
