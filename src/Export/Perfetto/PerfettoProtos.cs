namespace FastRmp.Export.Perfetto;

/// <summary>
/// The field numbers of Perfetto's trace protos that FastRmp writes, read from google/perfetto
/// (protos/perfetto/trace/..., commit ec5d16b, 2026-08). Only numbers and meanings are taken from there.
/// </summary>
internal static class PerfettoProtos
{
    /// <summary><c>message Trace { repeated TracePacket packet = 1; }</c> (trace.proto): the file is a run of these.</summary>
    public const int TracePacket = 1;

    /// <summary>trace_packet.proto, <c>message TracePacket</c>.</summary>
    public static class Packet
    {
        /// <summary><c>optional uint64 timestamp = 8</c>: ns in the trace's default clock (BOOTTIME when none is named).</summary>
        public const int Timestamp = 8;

        /// <summary><c>TrackEvent track_event = 11</c> (oneof data).</summary>
        public const int TrackEvent = 11;

        /// <summary><c>optional uint32 trusted_packet_sequence_id = 10</c>: the writer's sequence; interned ids are per sequence.</summary>
        public const int TrustedPacketSequenceId = 10;

        /// <summary><c>optional InternedData interned_data = 12</c>.</summary>
        public const int InternedData = 12;

        /// <summary><c>optional uint32 sequence_flags = 13</c> (SequenceFlags).</summary>
        public const int SequenceFlags = 13;

        /// <summary><c>TrackDescriptor track_descriptor = 60</c> (oneof data).</summary>
        public const int TrackDescriptor = 60;

        /// <summary><c>optional bool first_packet_on_sequence = 87</c>.</summary>
        public const int FirstPacketOnSequence = 87;

        /// <summary><c>SEQ_INCREMENTAL_STATE_CLEARED = 1</c>: interned state starts empty from this packet.</summary>
        public const uint SeqIncrementalStateCleared = 1;

        /// <summary><c>SEQ_NEEDS_INCREMENTAL_STATE = 2</c>: this packet uses interned ids.</summary>
        public const uint SeqNeedsIncrementalState = 2;
    }

    /// <summary>track_event/track_descriptor.proto, <c>message TrackDescriptor</c>.</summary>
    public static class Track
    {
        /// <summary><c>optional uint64 uuid = 1</c>.</summary>
        public const int Uuid = 1;

        /// <summary><c>string name = 2</c> (oneof static_or_dynamic_name).</summary>
        public const int Name = 2;

        /// <summary><c>optional ProcessDescriptor process = 3</c>.</summary>
        public const int Process = 3;

        /// <summary><c>optional ThreadDescriptor thread = 4</c>.</summary>
        public const int Thread = 4;

        /// <summary><c>optional uint64 parent_uuid = 5</c>.</summary>
        public const int ParentUuid = 5;

        /// <summary><c>optional CounterDescriptor counter = 8</c>: makes the track a counter track.</summary>
        public const int Counter = 8;

        /// <summary><c>optional ChildTracksOrdering child_ordering = 11</c>.</summary>
        public const int ChildOrdering = 11;

        /// <summary><c>optional int32 sibling_order_rank = 12</c>.</summary>
        public const int SiblingOrderRank = 12;

        /// <summary><c>optional string description = 14</c>.</summary>
        public const int Description = 14;

        /// <summary><c>ChildTracksOrdering.EXPLICIT = 3</c>: children by <see cref="SiblingOrderRank"/>.</summary>
        public const ulong OrderingExplicit = 3;
    }

    /// <summary>track_event/process_descriptor.proto: <c>pid = 1</c>, <c>process_name = 6</c>.</summary>
    public static class ProcessDescriptor
    {
        /// <summary><c>optional int32 pid = 1</c>.</summary>
        public const int Pid = 1;

        /// <summary><c>optional string process_name = 6</c>.</summary>
        public const int ProcessName = 6;
    }

    /// <summary>track_event/thread_descriptor.proto: <c>pid = 1</c>, <c>tid = 2</c>, <c>thread_name = 5</c>.</summary>
    public static class ThreadDescriptor
    {
        /// <summary><c>optional int32 pid = 1</c> (the process).</summary>
        public const int Pid = 1;

        /// <summary><c>optional int64 tid = 2</c>.</summary>
        public const int Tid = 2;

        /// <summary><c>optional string thread_name = 5</c>.</summary>
        public const int ThreadName = 5;
    }

    /// <summary>track_event/counter_descriptor.proto: <c>unit = 3</c> (<c>UNIT_COUNT = 2</c>), <c>unit_name = 6</c>.</summary>
    public static class CounterDescriptor
    {
        /// <summary><c>optional Unit unit = 3</c>.</summary>
        public const int Unit = 3;

        /// <summary><c>optional string unit_name = 6</c>.</summary>
        public const int UnitName = 6;

        /// <summary><c>UNIT_COUNT = 2</c>.</summary>
        public const ulong UnitCount = 2;
    }

    /// <summary>track_event/track_event.proto, <c>message TrackEvent</c>.</summary>
    public static class Event
    {
        /// <summary><c>repeated uint64 category_iids = 3</c> (interned EventCategory).</summary>
        public const int CategoryIids = 3;

        /// <summary><c>repeated DebugAnnotation debug_annotations = 4</c>.</summary>
        public const int DebugAnnotations = 4;

        /// <summary><c>optional Type type = 9</c>.</summary>
        public const int Type = 9;

        /// <summary><c>uint64 name_iid = 10</c> (oneof name_field; interned EventName).</summary>
        public const int NameIid = 10;

        /// <summary><c>optional uint64 track_uuid = 11</c>.</summary>
        public const int TrackUuid = 11;

        /// <summary><c>string name = 23</c> (oneof name_field).</summary>
        public const int Name = 23;

        /// <summary><c>int64 counter_value = 30</c> (oneof counter_value_field).</summary>
        public const int CounterValue = 30;

        /// <summary><c>TYPE_SLICE_BEGIN = 1</c>.</summary>
        public const ulong TypeSliceBegin = 1;

        /// <summary><c>TYPE_SLICE_END = 2</c>.</summary>
        public const ulong TypeSliceEnd = 2;

        /// <summary><c>TYPE_INSTANT = 3</c>.</summary>
        public const ulong TypeInstant = 3;

        /// <summary><c>TYPE_COUNTER = 4</c>.</summary>
        public const ulong TypeCounter = 4;
    }

    /// <summary>track_event/debug_annotation.proto, <c>message DebugAnnotation</c>.</summary>
    public static class Annotation
    {
        /// <summary><c>uint64 name_iid = 1</c> (interned DebugAnnotationName).</summary>
        public const int NameIid = 1;

        /// <summary><c>uint64 uint_value = 3</c>.</summary>
        public const int UintValue = 3;

        /// <summary><c>int64 int_value = 4</c>.</summary>
        public const int IntValue = 4;

        /// <summary><c>string string_value = 6</c>.</summary>
        public const int StringValue = 6;

        /// <summary><c>uint64 pointer_value = 7</c> (shown in hex).</summary>
        public const int PointerValue = 7;

        /// <summary><c>string name = 10</c> (a name not interned).</summary>
        public const int Name = 10;

        /// <summary><c>repeated DebugAnnotation array_values = 12</c>.</summary>
        public const int ArrayValues = 12;
    }

    /// <summary>
    /// interned_data/interned_data.proto, <c>message InternedData</c>: <c>event_categories = 1</c>, <c>event_names = 2</c>,
    /// <c>debug_annotation_names = 3</c>; each entry (<c>EventCategory</c>, <c>EventName</c>, <c>DebugAnnotationName</c>) is
    /// <c>{ uint64 iid = 1; string name = 2; }</c>.
    /// </summary>
    public static class Interned
    {
        /// <summary><c>repeated EventCategory event_categories = 1</c>.</summary>
        public const int EventCategories = 1;

        /// <summary><c>repeated EventName event_names = 2</c>.</summary>
        public const int EventNames = 2;

        /// <summary><c>repeated DebugAnnotationName debug_annotation_names = 3</c>.</summary>
        public const int DebugAnnotationNames = 3;

        /// <summary><c>optional uint64 iid = 1</c>.</summary>
        public const int Iid = 1;

        /// <summary><c>optional string name = 2</c>.</summary>
        public const int Name = 2;
    }
}
