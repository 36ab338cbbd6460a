using System.Diagnostics;
using FastRmp.Engine.Memory;
using FastRmp.Interop.Tracing;

namespace FastRmp.Fuzz;

/// <summary>
/// Runs one input through a target and checks the per-input invariants (docs/fuzzing.md): only the documented
/// exception escapes, and its message is one line that names the input; the input takes at most
/// <see cref="MaxSeconds"/>; the managed bytes allocated stay under <see cref="MaxAllocatedBytes"/>; the records read
/// stay under the target's bound; every native block the run made is freed when it ends. A broken invariant throws
/// <see cref="FuzzInvariantException"/>, any other exception is rethrown as it is: both are crashes to the fuzzer.
/// </summary>
/// <remarks>
/// Allocation is counted on the calling thread (<see cref="GC.GetAllocatedBytesForCurrentThread"/>): the readers and
/// the replay run on it. The native check compares <see cref="NativeBuffer.LiveBytes"/> before and after, which is
/// process-wide: callers that share the process with other work (the test run) turn it off or run alone.
/// </remarks>
public static class FuzzCheck
{
    /// <summary>
    /// Seconds one input may take: the hang bound, 10 s, or FASTRMP_FUZZ_MAX_SECONDS (scripts/fuzz.sh sets 30:
    /// SharpFuzz's instrumentation makes the model several times slower, and a 1 s replay became 15 s under it).
    /// </summary>
    public static readonly double MaxSeconds = double.TryParse(Environment.GetEnvironmentVariable("FASTRMP_FUZZ_MAX_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 10;

    /// <summary>The outcome of one input.</summary>
    /// <param name="Records">Records read (0 when refused).</param>
    /// <param name="Refused">The input was refused with the documented exception.</param>
    /// <param name="Elapsed">Wall time.</param>
    /// <param name="AllocatedBytes">Managed bytes allocated.</param>
    public readonly record struct Outcome(long Records, bool Refused, TimeSpan Elapsed, long AllocatedBytes);

    /// <summary>Managed bytes one input may allocate: 512 MiB plus 100 times its size (the blow-up bound).</summary>
    public static long MaxAllocatedBytes(int inputBytes) => (512L << 20) + (100L * inputBytes);

    /// <summary>Runs <paramref name="data"/> through <paramref name="target"/> and checks every invariant.</summary>
    /// <exception cref="FuzzInvariantException">An invariant broke.</exception>
    public static Outcome Run(FuzzTarget target, ReadOnlyMemory<byte> data, bool checkNative = true)
    {
        long nativeBefore = NativeBuffer.LiveBytes;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        long records = 0;
        bool refused = false;
        try
        {
            records = target.Run(data);
        }
        catch (Exception ex) when (target.IsExpected(ex))
        {
            refused = true;
            CheckMessage(ex);
        }

        var elapsed = clock.Elapsed;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        if (elapsed.TotalSeconds > MaxSeconds)
        {
            throw new FuzzInvariantException($"{target.Name}: one input of {data.Length} bytes took {elapsed.TotalSeconds:F1} s (bound {MaxSeconds} s)");
        }

        if (allocated > MaxAllocatedBytes(data.Length))
        {
            throw new FuzzInvariantException($"{target.Name}: one input of {data.Length} bytes allocated {allocated >> 20} MiB (bound {MaxAllocatedBytes(data.Length) >> 20} MiB)");
        }

        long bound = target.MaxRecords(data);
        if (records < 0 || records > bound)
        {
            throw new FuzzInvariantException($"{target.Name}: {records} records from {data.Length} bytes (bound {bound})");
        }

        if (checkNative && NativeBuffer.LiveBytes > nativeBefore)
        {
            throw new FuzzInvariantException($"{target.Name}: {NativeBuffer.LiveBytes - nativeBefore} bytes of native memory still live after the input's owners were disposed");
        }

        return new Outcome(records, refused, elapsed, allocated);
    }

    private static void CheckMessage(Exception ex)
    {
        // The contract: one clear line naming what and where.
        if (string.IsNullOrWhiteSpace(ex.Message) || ex.Message.Contains('\n', StringComparison.Ordinal))
        {
            throw new FuzzInvariantException($"the refusal is not one line: '{ex.Message}'", ex);
        }

        if (ex is TraceFormatException && !ex.Message.Contains("fuzz", StringComparison.Ordinal))
        {
            throw new FuzzInvariantException($"the refusal does not name the input: '{ex.Message}'", ex);
        }
    }
}
