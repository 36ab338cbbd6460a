namespace FastRmp.Interop.Tracing.Perf;

/// <summary>The <c>sample_type</c> bits of a perf event attribute: which fields a <c>PERF_RECORD_SAMPLE</c> carries, in this order.</summary>
/// <remarks>Source: include/uapi/linux/perf_event.h of Linux 6.18 (<c>enum perf_event_sample_format</c> and the layout comment of <c>PERF_RECORD_SAMPLE</c>).</remarks>
[Flags]
public enum PerfSampleFormat : ulong
{
    /// <summary>No field.</summary>
    None = 0,

    /// <summary><c>u64 ip</c>.</summary>
    Ip = 1UL << 0,

    /// <summary><c>u32 pid, tid</c>.</summary>
    Tid = 1UL << 1,

    /// <summary><c>u64 time</c>.</summary>
    Time = 1UL << 2,

    /// <summary><c>u64 addr</c>.</summary>
    Addr = 1UL << 3,

    /// <summary>A <c>read_format</c> block.</summary>
    Read = 1UL << 4,

    /// <summary><c>u64 nr, ips[nr]</c>.</summary>
    Callchain = 1UL << 5,

    /// <summary><c>u64 id</c> (after ADDR).</summary>
    Id = 1UL << 6,

    /// <summary><c>u32 cpu, res</c>.</summary>
    Cpu = 1UL << 7,

    /// <summary><c>u64 period</c>.</summary>
    Period = 1UL << 8,

    /// <summary><c>u64 stream_id</c>.</summary>
    StreamId = 1UL << 9,

    /// <summary><c>u32 size, u8 data[size]</c>: for tracepoints, the event record from <c>common_type</c> on.</summary>
    Raw = 1UL << 10,

    /// <summary>A branch stack.</summary>
    BranchStack = 1UL << 11,

    /// <summary>User registers.</summary>
    RegsUser = 1UL << 12,

    /// <summary>User stack.</summary>
    StackUser = 1UL << 13,

    /// <summary>Weight.</summary>
    Weight = 1UL << 14,

    /// <summary>Data source.</summary>
    DataSrc = 1UL << 15,

    /// <summary><c>u64 id</c> as the first field of a sample and the last of a <c>sample_id</c> trailer.</summary>
    Identifier = 1UL << 16,

    /// <summary>Transaction.</summary>
    Transaction = 1UL << 17,

    /// <summary>Interrupt registers.</summary>
    RegsIntr = 1UL << 18,

    /// <summary>Physical address.</summary>
    PhysAddr = 1UL << 19,

    /// <summary>AUX data.</summary>
    Aux = 1UL << 20,

    /// <summary>cgroup id.</summary>
    Cgroup = 1UL << 21,

    /// <summary>Data page size.</summary>
    DataPageSize = 1UL << 22,

    /// <summary>Code page size.</summary>
    CodePageSize = 1UL << 23,

    /// <summary>Weight as a struct.</summary>
    WeightStruct = 1UL << 24,
}
