namespace FastRmp.Interop.Tracing;

/// <summary>A damaged region that a reader skipped: a ring-buffer sub-buffer, a compressed chunk or a text line.</summary>
/// <param name="Cpu">The CPU whose data was damaged (-1 for text, <see cref="NoCpu"/> for binary data of no one CPU).</param>
/// <param name="Offset">File offset of the damaged sub-buffer or chunk (for text: the line number).</param>
/// <param name="Description">What was wrong, as a sentence.</param>
public readonly record struct TraceDamage(int Cpu, long Offset, string Description)
{
    /// <summary>The <see cref="Cpu"/> of binary damage that belongs to no one CPU (a perf.data record): <see cref="Offset"/> is a file offset.</summary>
    public const int NoCpu = -2;

    /// <inheritdoc/>
    public override string ToString() => Cpu >= 0
        ? $"skipped {Description} on CPU {Cpu} at offset 0x{Offset:x}"
        : Cpu == NoCpu
            ? $"skipped {Description} at offset 0x{Offset:x}"
            : $"skipped line {Offset}: {Description}";
}

/// <summary>Counts kept by a reader while it streams: lost events reported by the kernel and damage skipped. Not thread-safe: updated by the reader that owns it.</summary>
public sealed class TraceReadStats
{
    private readonly List<TraceDamage> _damage = [];

    /// <summary>Events the kernel reported as lost (sum of the stored counts; pages with an unknown count add 0).</summary>
    public long LostEvents { get; internal set; }

    /// <summary>
    /// Input bytes read so far (record data: sub-buffer blocks, compressed chunks, text blocks), for progress. Updated
    /// once per block, so it runs ahead of the records returned by at most one block per CPU.
    /// </summary>
    public long BytesRead { get; internal set; }

    /// <summary>Sub-buffers (or <c>LOST</c> lines) that reported lost events.</summary>
    public long LostEventMarks { get; internal set; }

    /// <summary>
    /// perf.data: <c>PERF_RECORD_THROTTLE</c> and <c>UNTHROTTLE</c> records (the kernel paused or resumed an event that
    /// exceeded its sample rate; samples may be missing in between). 0 for other inputs.
    /// </summary>
    public long ThrottleRecords { get; internal set; }

    /// <summary>
    /// perf.data: records that came out older than a record already delivered (the file broke perf's round rule, or
    /// the reader's ordering window filled up). 0 for other inputs.
    /// </summary>
    public long UnorderedRecords { get; internal set; }

    /// <summary>Records whose event ID has no format in the file (skipped).</summary>
    public long UnknownEventRecords { get; internal set; }

    /// <summary>Event formats of the file that could not be read, with where and why (their records count as unknown).</summary>
    public IReadOnlyList<string> FormatErrors { get; internal set; } = [];

    /// <summary>The damaged regions skipped (the first 1000 are kept; <see cref="DamageCount"/> counts all).</summary>
    public IReadOnlyList<TraceDamage> Damage => _damage;

    /// <summary>Number of damaged regions skipped.</summary>
    public long DamageCount { get; private set; }

    /// <summary>Adds the counts and damage of <paramref name="other"/> (a part of the same input read on its own); its damage goes after this one's.</summary>
    internal void Add(TraceReadStats other)
    {
        LostEvents += other.LostEvents;
        BytesRead += other.BytesRead;
        LostEventMarks += other.LostEventMarks;
        ThrottleRecords += other.ThrottleRecords;
        UnorderedRecords += other.UnorderedRecords;
        UnknownEventRecords += other.UnknownEventRecords;
        FormatErrors = FormatErrors.Count == 0 ? other.FormatErrors : FormatErrors;
        foreach (var d in other._damage)
        {
            if (_damage.Count < 1000)
            {
                _damage.Add(d);
            }
        }

        DamageCount += other.DamageCount;
    }

    internal void AddDamage(TraceDamage damage)
    {
        DamageCount++;
        if (_damage.Count < 1000)
        {
            _damage.Add(damage);
        }
    }
}
