namespace FastRmp.Engine.Metrics;

/// <summary>Which part of FastRmp produces a counter.</summary>
public enum CounterSet
{
    /// <summary>The model of the host (KVM, the RMP, guest_memfd, the allocator): every scenario and every replay has it.</summary>
    Model,

    /// <summary>A host's RMPOPT summary: only results of a host with RMPOPT (<c>HostOptions.RmpOpt</c>) have it, after the model's counters.</summary>
    RmpOpt,

    /// <summary>The replay of a trace: only replay and compare results have it, after the model's counters.</summary>
    Replay,

    /// <summary>A TDX host (the TDX module, its Secure EPT and PAMT): only results of a TD have it, after the model's counters.</summary>
    Tdx,
}

/// <summary>What one counter of a result counts: the facts every report (table, JSON, HTML, help) shows about it.</summary>
/// <param name="Name">The counter's name in results and JSON, e.g. <c>rmp_npf</c> (lower case, words joined by '_').</param>
/// <param name="Title">A short column or row title, e.g. <c>extra #NPF</c>.</param>
/// <param name="Unit">What one unit of the value is, plural, e.g. <c>faults</c>, <c>entries</c>.</param>
/// <param name="Description">One line on what the counter counts.</param>
/// <param name="Source">
/// Where the kernel or the hardware counts or does the same thing (function, file, kernel version), or <c>model</c>
/// followed by what the model itself keeps when nothing in the kernel corresponds.
/// </param>
/// <param name="Set">Which part of FastRmp produces it.</param>
public sealed record CounterInfo(string Name, string Title, string Unit, string Description, string Source, CounterSet Set)
{
    /// <summary>This counter with <paramref name="value"/>, as a result's counter list holds it.</summary>
    public KeyValuePair<string, long> With(long value) => new(Name, value);
}
