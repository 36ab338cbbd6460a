namespace FastRmp.Export.Tests.Perfetto;

/// <summary>A track as its TrackDescriptor describes it (the last descriptor of its uuid).</summary>
internal sealed record TrackView(ulong Uuid, ulong Parent, string? Name, long? Pid, long? Tid, string? ThreadName, bool IsCounter);

/// <summary>A TrackEvent, names resolved through the sequence's interned data.</summary>
internal sealed record EventView(ulong Timestamp, ulong Track, ulong Type, string Name, string? Category, Dictionary<string, object> Args, long? CounterValue);

/// <summary>
/// A Perfetto trace read back with <see cref="WireMessage"/> and the field numbers of Perfetto's protos
/// (trace.proto, trace_packet.proto, track_event/*.proto, interned_data/interned_data.proto), checking the sequence
/// rules on the way: one sequence, state cleared on its first packet, every interned id defined once and before or in
/// the packet that uses it, and used only by packets that say they need the sequence's state.
/// </summary>
internal sealed class PerfettoView
{
    public List<EventView> Events { get; } = [];

    public Dictionary<ulong, TrackView> Tracks { get; } = [];

    public int Packets { get; private set; }

    public int Descriptors { get; private set; }

    public static PerfettoView Read(byte[] file)
    {
        var view = new PerfettoView();
        var trace = WireMessage.Parse(file);
        var names = new Dictionary<ulong, string>();
        var categories = new Dictionary<ulong, string>();
        var argNames = new Dictionary<ulong, string>();
        bool first = true;
        foreach (var field in trace.Fields)
        {
            Assert.Equal(1, field.Number); // Trace.packet
            Assert.Equal(2, field.WireType);
            var packet = field.Message;
            view.Packets++;
            Assert.Equal(1UL, packet.Varint(10)); // trusted_packet_sequence_id
            ulong flags = packet.VarintOrNull(13) ?? 0;
            if (first)
            {
                Assert.Equal(1UL, flags & 1); // SEQ_INCREMENTAL_STATE_CLEARED
                Assert.Equal(1UL, packet.Varint(87)); // first_packet_on_sequence
                first = false;
            }
            else
            {
                Assert.Equal(0UL, flags & 1);
            }

            if (packet.Has(12))
            {
                Assert.Equal(2UL, flags & 2); // interned data only where the state is used
                var interned = packet.One(12).Message;
                Define(interned, 1, categories);
                Define(interned, 2, names);
                Define(interned, 3, argNames);
            }

            if (packet.Has(60))
            {
                view.Descriptors++;
                var d = packet.One(60).Message;
                ulong uuid = d.Varint(1);
                Assert.NotEqual(0UL, uuid);
                var thread = d.Has(4) ? d.One(4).Message : null;
                view.Tracks[uuid] = new TrackView(
                    uuid,
                    d.VarintOrNull(5) ?? 0,
                    d.Has(2) ? d.One(2).Text : null,
                    thread?.Has(1) == true ? (long)thread.Varint(1) : null,
                    thread?.Has(2) == true ? (long)thread.Varint(2) : null,
                    thread?.Has(5) == true ? thread.One(5).Text : null,
                    d.Has(8));
            }

            if (packet.Has(11))
            {
                Assert.Equal(2UL, flags & 2); // SEQ_NEEDS_INCREMENTAL_STATE
                var e = packet.One(11).Message;
                ulong type = e.Varint(9);
                string name = e.Has(10) ? names[e.Varint(10)] : e.Has(23) ? e.One(23).Text : "";
                string? category = e.Has(3) ? categories[e.Varint(3)] : null;
                var args = new Dictionary<string, object>(StringComparer.Ordinal);
                foreach (var a in e.All(4))
                {
                    var annotation = a.Message;
                    string argName = annotation.Has(1) ? argNames[annotation.Varint(1)] : annotation.One(10).Text;
                    object value = annotation.Has(3) ? annotation.Varint(3)
                        : annotation.Has(4) ? (long)annotation.Varint(4)
                        : annotation.Has(7) ? annotation.Varint(7)
                        : annotation.Has(6) ? annotation.One(6).Text
                        : annotation.All(12).Select(x => x.Message.Varint(3)).ToArray();
                    Assert.True(args.TryAdd(argName, value), $"argument {argName} twice");
                }

                view.Events.Add(new EventView(packet.Varint(8), e.Varint(11), type, name, category, args, e.Has(30) ? (long)e.Varint(30) : null));
            }
        }

        // every event on a described track
        Assert.All(view.Events, ev => Assert.True(view.Tracks.ContainsKey(ev.Track), $"event {ev.Name} on undescribed track {ev.Track}"));
        return view;
    }

    private static void Define(WireMessage interned, int kind, Dictionary<ulong, string> table)
    {
        foreach (var entry in interned.All(kind))
        {
            var m = entry.Message;
            Assert.True(table.TryAdd(m.Varint(1), m.One(2).Text), $"interned id {m.Varint(1)} of kind {kind} defined twice");
        }
    }
}
