namespace FastRmp.Interop.Tracing;

/// <summary>
/// Records copied out of a reader (whose <see cref="TraceRecord"/> is valid only until it moves on), to be read later or
/// on another thread: batches of the parallel <c>events</c> output.
/// </summary>
/// <remarks>
/// Holds each record's time, CPU, pid, tgid, format, comm (resolved when copied: a perf.data renames threads as it
/// goes) and bytes or text, in arrays reused from one batch to the next. Not thread-safe: filled by one thread, then
/// read by one thread (hand-over through a queue orders the two).
/// </remarks>
public sealed class TraceRecordBatch
{
    private readonly ulong[] _timestamps;
    private readonly int[] _cpus;
    private readonly int[] _pids;
    private readonly int[] _tgids;
    private readonly EventFormat[] _formats;
    private readonly string[] _comms;
    private readonly bool[] _isText;
    private readonly int[] _starts;
    private readonly int[] _lengths;
    private readonly int _byteLimit;
    private readonly OneComm _comm = new();
    private byte[] _bytes;
    private char[] _chars = new char[1024];
    private bool _bigEndian;
    private int _bytesUsed;
    private int _charsUsed;

    /// <summary>Creates a batch of at most <paramref name="capacity"/> records, full earlier when its bytes or characters reach <paramref name="byteLimit"/>.</summary>
    public TraceRecordBatch(int capacity = 4096, int byteLimit = 512 << 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(byteLimit, 1);
        Capacity = capacity;
        _byteLimit = byteLimit;
        _timestamps = new ulong[capacity];
        _cpus = new int[capacity];
        _pids = new int[capacity];
        _tgids = new int[capacity];
        _formats = new EventFormat[capacity];
        _comms = new string[capacity];
        _isText = new bool[capacity];
        _starts = new int[capacity];
        _lengths = new int[capacity];
        _bytes = new byte[Math.Min(byteLimit, 1 << 20)];
    }

    /// <summary>Records the batch holds at most.</summary>
    public int Capacity { get; }

    /// <summary>Records held.</summary>
    public int Count { get; private set; }

    /// <summary>True when no more records fit (<see cref="Capacity"/> reached, or the bytes or characters limit).</summary>
    public bool IsFull => Count == Capacity || _bytesUsed >= _byteLimit || _charsUsed >= _byteLimit;

    /// <summary>Empties the batch (its arrays are kept).</summary>
    public void Clear()
    {
        Count = 0;
        _bytesUsed = 0;
        _charsUsed = 0;
    }

    /// <summary>Copies <paramref name="record"/> in with its comm; returns <see cref="IsFull"/>.</summary>
    /// <exception cref="InvalidOperationException">The batch is full.</exception>
    public bool Add(in TraceRecord record, string comm)
    {
        ArgumentNullException.ThrowIfNull(comm);
        if (IsFull)
        {
            throw new InvalidOperationException("The batch is full: read and Clear it first.");
        }

        int i = Count++;
        _timestamps[i] = record.Timestamp;
        _cpus[i] = record.Cpu;
        _pids[i] = record.Pid;
        _tgids[i] = record.Tgid;
        _formats[i] = record.Format;
        _comms[i] = comm;
        bool text = record.IsText;
        _isText[i] = text;
        if (text)
        {
            _starts[i] = Append(ref _chars, ref _charsUsed, record.Text);
            _lengths[i] = record.Text.Length;
        }
        else
        {
            _bigEndian = record.IsBigEndian;
            _starts[i] = Append(ref _bytes, ref _bytesUsed, record.Payload);
            _lengths[i] = record.Payload.Length;
        }

        return IsFull;
    }

    /// <summary>Copies <paramref name="data"/> to the end of <paramref name="buffer"/>'s used part (growing it); returns where it starts.</summary>
    private static int Append<T>(ref T[] buffer, ref int used, ReadOnlySpan<T> data)
    {
        if (data.Length > buffer.Length - used)
        {
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, used + data.Length));
        }

        data.CopyTo(buffer.AsSpan(used));
        int start = used;
        used += data.Length;
        return start;
    }

    /// <summary>Record <paramref name="index"/>'s timestamp.</summary>
    public ulong Timestamp(int index) => _timestamps[Check(index)];

    /// <summary>Record <paramref name="index"/>'s CPU.</summary>
    public int Cpu(int index) => _cpus[Check(index)];

    /// <summary>Record <paramref name="index"/>'s pid.</summary>
    public int Pid(int index) => _pids[Check(index)];

    /// <summary>Record <paramref name="index"/>'s format.</summary>
    public EventFormat Format(int index) => _formats[Check(index)];

    /// <summary>Record <paramref name="index"/>'s comm, as resolved when it was copied.</summary>
    public string Comm(int index) => _comms[Check(index)];

    /// <summary>
    /// Record <paramref name="index"/> as it was read. Its <see cref="TraceRecord.Comm"/> is the one copied with it, and
    /// for a binary record stays so until the next call of this method on the batch.
    /// </summary>
    public TraceRecord Record(int index)
    {
        int i = Check(index);
        if (_isText[i])
        {
            return new TraceRecord(_timestamps[i], _cpus[i], _pids[i], _comms[i], _formats[i], _chars.AsSpan(_starts[i], _lengths[i]), _tgids[i]);
        }

        _comm.Value = _comms[i];
        return new TraceRecord(_timestamps[i], _cpus[i], _pids[i], _formats[i], _bytes.AsSpan(_starts[i], _lengths[i]), _bigEndian, _comm, _tgids[i]);
    }

    private int Check(int index) => (uint)index < (uint)Count ? index : throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} records.");

    /// <summary>The comm of the binary record handed out last.</summary>
    private sealed class OneComm : ICommResolver
    {
        public string Value { get; set; } = "";

        public string CommOf(int pid) => Value;
    }
}
