using FastRmp.Fuzz;

namespace FastRmp.Cli.Tests.Fuzzing;

/// <summary>Runs alone: the fuzz checks compare the process's live native bytes before and after each input.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "fuzz (native bytes checked)";
}

/// <summary>
/// The CI's bounded fuzz run (docs/fuzzing.md): every target of fuzz/FastRmp.Fuzz for <see cref="SecondsPerTarget"/>,
/// its seeds as they are and then mutants from a seed that changes every run (the clock; FASTRMP_FUZZ_SEED repeats
/// one), each input checked for time, allocation, record count, native leaks and the exception it may throw. A failure
/// names the seed and the input's index and saves the input under artifacts/fuzz/failures.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class BoundedFuzzTests
{
    /// <summary>Seconds of mutants per target: 10 targets, about 1.7 min in all on 2 cores.</summary>
    public const double SecondsPerTarget = 10;

    /// <summary>Targets with an open finding, left out of the CI run until it is fixed (docs/fuzzing.md, "Open"): none.</summary>
    private static readonly string[] s_open = [];

    public static TheoryData<string> TargetNames() => [.. Targets.All.Select(t => t.Name).Where(n => !s_open.Contains(n))];

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(TargetNames))]
    public void Mutants_of_the_seeds_break_no_invariant(string name)
    {
        var target = Targets.Get(name);
        string? fixedSeed = Environment.GetEnvironmentVariable("FASTRMP_FUZZ_SEED");
        int seed = string.IsNullOrEmpty(fixedSeed) ? BoundedRun.DefaultSeed() : int.Parse(fixedSeed, System.Globalization.CultureInfo.InvariantCulture);
        TestContext.Current.TestOutputHelper?.WriteLine($"fuzz target {name}: seed {seed} (repeat with FASTRMP_FUZZ_SEED={seed})");
        string failures = Path.Combine(Repository.Root(), "artifacts", "fuzz", "failures");
        var summary = BoundedRun.Run(target, seed, TimeSpan.FromSeconds(SecondsPerTarget), checkNative: true, failureDir: failures, cancel: TestContext.Current.CancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"{summary.Inputs} inputs, {summary.Refused} refused, {summary.Records} records, slowest {summary.Slowest.TotalMilliseconds:F0} ms");
        Assert.True(summary.Inputs > target.Seeds(true).Count, $"only the seeds ran ({summary.Inputs} inputs, seed {seed})");
    }

    [Fact]
    public void Every_seed_is_read_without_a_refusal_except_where_meant()
    {
        // Seeds that reach the record parser: each reader's own seeds (not the samples) are read, not refused at the header.
        foreach (var target in Targets.All.Where(t => t.Name is not "formatfile"))
        {
            var seeds = target.Seeds(false);
            for (int i = 0; i < seeds.Count; i++)
            {
                var outcome = FuzzCheck.Run(target, seeds[i], checkNative: true);
                Assert.False(outcome.Refused, $"{target.Name} seed {i} was refused");
                Assert.True(outcome.Records > 0, $"{target.Name} seed {i} gave no record");
            }
        }
    }
}
