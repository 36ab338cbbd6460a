using static FastRmp.Export.Perfetto.PerfettoProtos;

namespace FastRmp.Export.Perfetto;

/// <summary>
/// Writes a Perfetto trace (a run of <c>Trace.packet</c> fields) to a stream as it goes: track descriptors, instant
/// events and counter values on one packet sequence, with event names, categories and annotation names interned.
/// </summary>
/// <remarks>
/// Every packet carries <c>trusted_packet_sequence_id</c> 1. The first packet says
/// <c>SEQ_INCREMENTAL_STATE_CLEARED</c> and <c>first_packet_on_sequence</c>; each event packet says
/// <c>SEQ_NEEDS_INCREMENTAL_STATE</c> and carries, in its own <c>interned_data</c>, the names it is the first to use (a
/// packet's fields are read as a whole, so the interned entries may follow the event that uses them, as Perfetto's own
/// SDK writes them). Memory is bounded: one output buffer flushed at <see cref="FlushBytes"/>, and at most
/// <see cref="MaxInterned"/> interned names per kind; names past that are written inline. Not thread-safe.
/// </remarks>
internal sealed class PerfettoWriter : IDisposable
{
    /// <summary>The output buffer is written to the stream when it holds this much.</summary>
    public const int FlushBytes = 1 << 20;

    /// <summary>Interned names per kind (event names, categories, annotation names) before names go inline.</summary>
    public const int MaxInterned = 1 << 16;

    private const uint Sequence = 1;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ProtoBuffer _out = new(FlushBytes + (64 << 10));
    private readonly ProtoBuffer _interned = new(1024);
    private readonly Interner _eventNames = new(Interned.EventNames);
    private readonly Interner _categories = new(Interned.EventCategories);
    private readonly Interner _annotationNames = new(Interned.DebugAnnotationNames);
    private ulong _nextUuid = 1;
    private int _packetMark = -1;
    private int _eventMark;
    private bool _packetUsesState;
    private bool _disposed;

    public PerfettoWriter(Stream stream, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        int mark = _out.BeginMessage(TracePacket);
        _out.Varint(Packet.TrustedPacketSequenceId, Sequence);
        _out.Varint(Packet.SequenceFlags, Packet.SeqIncrementalStateCleared);
        _out.Bool(Packet.FirstPacketOnSequence, true);
        _out.EndMessage(mark);
        Packets = 1;
    }

    /// <summary>Packets written (the first, empty one included).</summary>
    public long Packets { get; private set; }

    /// <summary>Events written (instants and counter values).</summary>
    public long Events { get; private set; }

    /// <summary>Tracks described.</summary>
    public long Tracks { get; private set; }

    /// <summary>A new track uuid (unique in this file).</summary>
    public ulong NewUuid() => _nextUuid++;

    /// <summary>Interned id of an event name (0: not interned, write it inline).</summary>
    public ulong EventName(string name) => _eventNames.Id(name, _interned);

    /// <summary>Interned id of a category.</summary>
    public ulong Category(string name) => _categories.Id(name, _interned);

    /// <summary>Interned id of a debug annotation name.</summary>
    public ulong AnnotationName(string name) => _annotationNames.Id(name, _interned);

    /// <summary>Interned id of a debug annotation name given as chars (looked up without allocating when known).</summary>
    public ulong AnnotationName(ReadOnlySpan<char> name) => _annotationNames.Id(name, _interned);

    /// <summary>Describes a thread's track (<c>ThreadDescriptor</c>: process <paramref name="pid"/>, thread <paramref name="tid"/>).</summary>
    public void DescribeThread(ulong uuid, int pid, int tid, string name)
    {
        int track = BeginDescriptor(uuid, 0);
        int thread = _out.BeginMessage(Track.Thread);
        _out.Int64(ThreadDescriptor.Pid, pid);
        _out.Int64(ThreadDescriptor.Tid, tid);
        _out.String(ThreadDescriptor.ThreadName, name);
        _out.EndMessage(thread);
        EndDescriptor(track);
    }

    /// <summary>Describes a process's track (<c>ProcessDescriptor</c>).</summary>
    public void DescribeProcess(ulong uuid, int pid, string name)
    {
        int track = BeginDescriptor(uuid, 0);
        int process = _out.BeginMessage(Track.Process);
        _out.Int64(ProcessDescriptor.Pid, pid);
        _out.String(ProcessDescriptor.ProcessName, name);
        _out.EndMessage(process);
        EndDescriptor(track);
    }

    /// <summary>Describes a named track under <paramref name="parent"/> (0: at the top); <paramref name="rank"/> orders siblings under an explicitly ordered parent.</summary>
    public void DescribeTrack(ulong uuid, string name, ulong parent = 0, string? description = null, int rank = -1, bool explicitOrder = false)
    {
        int track = BeginDescriptor(uuid, parent);
        NameAndRank(name, description, rank);
        if (explicitOrder)
        {
            _out.Varint(Track.ChildOrdering, Track.OrderingExplicit);
        }

        EndDescriptor(track);
    }

    /// <summary>Describes a counter track (<c>CounterDescriptor</c>, unit count).</summary>
    public void DescribeCounter(ulong uuid, string name, ulong parent, string? description = null, int rank = -1)
    {
        int track = BeginDescriptor(uuid, parent);
        NameAndRank(name, description, rank);
        int counter = _out.BeginMessage(Track.Counter);
        _out.Varint(CounterDescriptor.Unit, CounterDescriptor.UnitCount);
        _out.EndMessage(counter);
        EndDescriptor(track);
    }

    /// <summary>A counter value at <paramref name="timestamp"/> on counter track <paramref name="uuid"/>.</summary>
    public void Counter(ulong timestamp, ulong uuid, long value)
    {
        BeginPacket(timestamp, Packet.SeqNeedsIncrementalState);
        int ev = _out.BeginMessage(Packet.TrackEvent);
        _out.Varint(Event.Type, Event.TypeCounter);
        _out.Varint(Event.TrackUuid, uuid);
        _out.Int64(Event.CounterValue, value);
        _out.EndMessage(ev);
        EndPacket();
        Events++;
    }

    /// <summary>
    /// Starts an instant event (<c>TYPE_INSTANT</c>) named <paramref name="name"/> in <paramref name="category"/> on
    /// track <paramref name="uuid"/>; add its arguments with the <c>Arg</c> methods, then <see cref="EndEvent"/>.
    /// </summary>
    public void BeginInstant(ulong timestamp, ulong uuid, ulong category, string name, ulong nameIid)
    {
        BeginPacket(timestamp, Packet.SeqNeedsIncrementalState);
        _eventMark = _out.BeginMessage(Packet.TrackEvent);
        _out.Varint(Event.Type, Event.TypeInstant);
        _out.Varint(Event.TrackUuid, uuid);
        if (category != 0)
        {
            _out.Varint(Event.CategoryIids, category);
        }

        if (nameIid != 0)
        {
            _out.Varint(Event.NameIid, nameIid);
        }
        else
        {
            _out.String(Event.Name, name);
        }
    }

    /// <summary>An unsigned argument (<c>uint_value</c>).</summary>
    public void ArgUInt(ulong nameIid, ReadOnlySpan<char> name, ulong value) => Arg(nameIid, name, Annotation.UintValue, value);

    /// <summary>A signed argument (<c>int_value</c>).</summary>
    public void ArgInt(ulong nameIid, ReadOnlySpan<char> name, long value) => Arg(nameIid, name, Annotation.IntValue, (ulong)value);

    /// <summary>An address-like argument shown in hex (<c>pointer_value</c>).</summary>
    public void ArgHex(ulong nameIid, ReadOnlySpan<char> name, ulong value) => Arg(nameIid, name, Annotation.PointerValue, value);

    /// <summary>A string argument.</summary>
    public void ArgString(ulong nameIid, ReadOnlySpan<char> name, ReadOnlySpan<char> value)
    {
        int mark = BeginArg(nameIid, name);
        _out.String(Annotation.StringValue, value);
        _out.EndMessage(mark);
    }

    /// <summary>Starts an array argument; add elements with <see cref="ArrayElement"/>, then <see cref="EndArray"/>.</summary>
    public int BeginArray(ulong nameIid, ReadOnlySpan<char> name) => BeginArg(nameIid, name);

    /// <summary>One unsigned element of the array begun last.</summary>
    public void ArrayElement(ulong value)
    {
        int mark = _out.BeginMessage(Annotation.ArrayValues);
        _out.Varint(Annotation.UintValue, value);
        _out.EndMessage(mark);
    }

    /// <summary>Ends an array argument.</summary>
    public void EndArray(int mark) => _out.EndMessage(mark);

    /// <summary>Ends the event begun last (and its packet, with the names it interned).</summary>
    public void EndEvent()
    {
        _out.EndMessage(_eventMark);
        EndPacket();
        Events++;
    }

    /// <summary>Writes what is buffered to the stream.</summary>
    public void Flush()
    {
        _stream.Write(_out.Written);
        _out.Clear();
        _stream.Flush();
    }

    private void Arg(ulong nameIid, ReadOnlySpan<char> name, int valueField, ulong value)
    {
        int mark = BeginArg(nameIid, name);
        _out.Varint(valueField, value);
        _out.EndMessage(mark);
    }

    private int BeginArg(ulong nameIid, ReadOnlySpan<char> name)
    {
        int mark = _out.BeginMessage(Event.DebugAnnotations);
        if (nameIid != 0)
        {
            _out.Varint(Annotation.NameIid, nameIid);
        }
        else
        {
            _out.String(Annotation.Name, name);
        }

        return mark;
    }

    private void NameAndRank(string name, string? description, int rank)
    {
        _out.String(Track.Name, name);
        if (description is not null)
        {
            _out.String(Track.Description, description);
        }

        if (rank >= 0)
        {
            _out.Int64(Track.SiblingOrderRank, rank);
        }
    }

    private int BeginDescriptor(ulong uuid, ulong parent)
    {
        BeginPacket(0, 0);
        int track = _out.BeginMessage(Packet.TrackDescriptor);
        _out.Varint(Track.Uuid, uuid);
        if (parent != 0)
        {
            _out.Varint(Track.ParentUuid, parent);
        }

        return track;
    }

    private void EndDescriptor(int mark)
    {
        _out.EndMessage(mark);
        EndPacket();
        Tracks++;
    }

    private void BeginPacket(ulong timestamp, uint flags)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_packetMark >= 0)
        {
            throw new InvalidOperationException("A packet is open: end its event first.");
        }

        _packetMark = _out.BeginMessage(TracePacket);
        _packetUsesState = flags != 0;
        if (timestamp != 0 || flags != 0)
        {
            _out.Varint(Packet.Timestamp, timestamp);
        }

        _out.Varint(Packet.TrustedPacketSequenceId, Sequence);
        if (flags != 0)
        {
            _out.Varint(Packet.SequenceFlags, flags);
        }
    }

    private void EndPacket()
    {
        if (_interned.Length > 0 && _packetUsesState)
        {
            // descriptors do not carry interned entries: only packets flagged as using the sequence's state do
            _out.Bytes(Packet.InternedData, _interned.Written);
            _interned.Clear();
        }

        _out.EndMessage(_packetMark);
        _packetMark = -1;
        Packets++;
        if (_out.Length >= FlushBytes)
        {
            _stream.Write(_out.Written);
            _out.Clear();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            if (_packetMark < 0)
            {
                Flush();
            }
        }
        finally
        {
            _disposed = true;
            _out.Dispose();
            _interned.Dispose();
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    /// <summary>One kind of interned name: ids from 1, each new one added to the pending <c>interned_data</c> as it is handed out.</summary>
    private sealed class Interner(int field)
    {
        private readonly Dictionary<string, ulong> _ids = new(StringComparer.Ordinal);
        private ulong _next = 1;

        public ulong Id(string name, ProtoBuffer pending)
            => _ids.TryGetValue(name, out ulong id) ? id : Add(name, pending);

        public ulong Id(ReadOnlySpan<char> name, ProtoBuffer pending)
            => _ids.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out ulong id) ? id : Add(name.ToString(), pending);

        private ulong Add(string name, ProtoBuffer pending)
        {
            if (_ids.Count >= MaxInterned)
            {
                return 0;
            }

            ulong id = _next++;
            _ids.Add(name, id);
            int mark = pending.BeginMessage(field);
            pending.Varint(Interned.Iid, id);
            pending.String(Interned.Name, name);
            pending.EndMessage(mark);
            return id;
        }
    }
}
