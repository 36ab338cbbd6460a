namespace FastRmp.Interop.Tracing.Perf;

/// <summary>What a queued entry is: a sample to deliver, or a task event that changes a comm when its time comes.</summary>
internal enum PerfEntryKind : byte
{
    Sample,
    Comm,
    Fork,
}

/// <summary>One queued record: its sort key (time, then file order), what the reader needs, and where its bytes are.</summary>
internal struct PerfEntry
{
    public ulong Time;
    public long Seq;
    public int Cpu;
    public int Pid;
    public int Tid;
    public EventFormat? Format; // resolved when queued: a later tracing-data record (pipe mode) may bring other formats
    public PerfEntryKind Kind;
    public int Start;
    public int Length;
}
