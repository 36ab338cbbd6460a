using System.Diagnostics;

namespace FastRmp.Fuzz;

/// <summary>
/// A bounded in-process run of one target (the CI's fuzz run and <c>FastRmp.Fuzz ci</c>): every seed as it is, then
/// mutants of the seeds from <see cref="Random"/> seeded with <c>seed</c>, until the time or input budget is spent.
/// The seed changes per run (the caller picks it, e.g. from the clock) and is part of every failure's message, so a
/// failure reproduces with the same seed: the i-th mutant depends only on the seed and i.
/// </summary>
public static class BoundedRun
{
    /// <summary>What a run did.</summary>
    /// <param name="Inputs">Inputs run.</param>
    /// <param name="Refused">Inputs refused with the documented exception.</param>
    /// <param name="Records">Records read over all inputs.</param>
    /// <param name="Slowest">The slowest input.</param>
    /// <param name="MostAllocated">The most managed bytes one input allocated.</param>
    public readonly record struct Summary(long Inputs, long Refused, long Records, TimeSpan Slowest, long MostAllocated);

    /// <summary>A seed that changes every run: the UTC time in seconds, folded to an int.</summary>
    public static int DefaultSeed() => (int)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() % int.MaxValue);

    /// <summary>Runs <paramref name="target"/> for at most <paramref name="budget"/> or <paramref name="maxInputs"/> inputs.</summary>
    /// <exception cref="FuzzFailureException">An input broke an invariant or threw; the message has the seed, the index and where the input was saved.</exception>
    public static Summary Run(FuzzTarget target, int seed, TimeSpan budget, long maxInputs = long.MaxValue, bool checkNative = true, string? failureDir = null, CancellationToken cancel = default)
    {
        var seeds = target.Seeds(true);
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        long inputs = 0, refused = 0, records = 0, most = 0;
        var slowest = TimeSpan.Zero;
        for (long i = 0; inputs < maxInputs && (i < seeds.Count || clock.Elapsed < budget); i++)
        {
            cancel.ThrowIfCancellationRequested();
            byte[] input = i < seeds.Count ? seeds[(int)i] : Mutator.Mutate(seeds[rng.Next(seeds.Count)], seeds[rng.Next(seeds.Count)], rng);
            FuzzCheck.Outcome outcome;
            try
            {
                outcome = FuzzCheck.Run(target, input, checkNative);
            }
            catch (Exception ex)
            {
                string saved = Save(failureDir, target.Name, seed, i, input);
                throw new FuzzFailureException($"fuzz target {target.Name}, seed {seed}, input {i} ({input.Length} bytes, saved as {saved}): {ex.GetType().Name}: {ex.Message}", ex);
            }

            inputs++;
            refused += outcome.Refused ? 1 : 0;
            records += outcome.Records;
            most = Math.Max(most, outcome.AllocatedBytes);
            slowest = outcome.Elapsed > slowest ? outcome.Elapsed : slowest;
        }

        return new Summary(inputs, refused, records, slowest, most);
    }

    private static string Save(string? dir, string target, int seed, long index, byte[] input)
    {
        dir ??= Path.Combine(Path.GetTempPath(), "fastrmp-fuzz-failures");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{target}-seed{seed}-input{index}.bin");
        File.WriteAllBytes(path, input);
        return path;
    }
}

/// <summary>An input of a bounded run failed; the message says how to reproduce it.</summary>
public sealed class FuzzFailureException(string message, Exception inner) : Exception(message, inner);
