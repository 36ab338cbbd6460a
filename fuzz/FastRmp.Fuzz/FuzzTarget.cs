namespace FastRmp.Fuzz;

/// <summary>
/// One fuzz target: a reader (or the replay) run over arbitrary bytes. <see cref="Run"/> returns how many records it
/// read; an exception <see cref="IsExpected"/> accepts is the documented refusal of bad input (a
/// <c>TraceFormatException</c>, or the CLI's input error for the memslot file); anything else escaping is a defect.
/// </summary>
/// <param name="Name">The name scripts/fuzz.sh and the tests use.</param>
/// <param name="Run">Reads the input; returns the records read.</param>
/// <param name="IsExpected">Exceptions that are the documented outcome for bad input.</param>
/// <param name="MaxRecords">The most records an input may yield (from its size: a reader that yields more invents records).</param>
/// <param name="Seeds">Seed inputs, made by the project's own writers and snippets written here; with <c>true</c> also the samples beside the repository (some of which a reader refuses by design: latency, hex and raw text).</param>
public sealed record FuzzTarget(
    string Name,
    Func<ReadOnlyMemory<byte>, long> Run,
    Func<Exception, bool> IsExpected,
    Func<ReadOnlyMemory<byte>, long> MaxRecords,
    Func<bool, IReadOnlyList<byte[]>> Seeds);

/// <summary>A broken per-input invariant (time, memory, record count, a leak): the fuzzer reports it as a crash.</summary>
public sealed class FuzzInvariantException(string message, Exception? inner = null) : Exception(message, inner);
