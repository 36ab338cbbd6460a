using System.Globalization;
using SharpFuzz;

namespace FastRmp.Fuzz;

/// <summary>
/// The harness's entry (docs/fuzzing.md):
/// <list type="bullet">
/// <item><c>FastRmp.Fuzz TARGET</c> under libFuzzer (fuzz/driver, started by scripts/fuzz.sh) or afl-fuzz: runs the
/// target on each input the fuzzer sends, with the per-input checks of <see cref="FuzzCheck"/>.</item>
/// <item><c>FastRmp.Fuzz seeds TARGET DIR</c>: writes the target's seeds into DIR.</item>
/// <item><c>FastRmp.Fuzz run TARGET FILE...</c>: runs files through the target (a crasher, a corpus), saying what each did.</item>
/// <item><c>FastRmp.Fuzz ops FILE</c>: prints the trace text a <c>replayops</c> input stands for.</item>
/// <item><c>FastRmp.Fuzz ci [--seconds N] [--seed S] [TARGET...]</c>: the bounded run of every (or each named) target.</item>
/// </list>
/// </summary>
public static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return Dispatch(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"FastRmp.Fuzz: {ex.Message}");
            return 2;
        }
    }

    private static int Dispatch(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: FastRmp.Fuzz TARGET | seeds TARGET DIR | run TARGET FILE... | ci [--seconds N] [--seed S] [TARGET...]");
            Console.WriteLine($"targets: {string.Join(", ", Targets.All.Select(t => t.Name))}");
            return args.Length == 0 ? 2 : 0;
        }

        switch (args[0])
        {
            case "seeds" when args.Length == 3:
                return WriteSeeds(Targets.Get(args[1]), args[2]);
            case "run" when args.Length >= 3:
                return RunFiles(Targets.Get(args[1]), args[2..]);
            case "ci":
                return Ci(args[1..]);
            case "ops" when args.Length == 2:
                Console.Write(ReplayOps.ToText(File.ReadAllBytes(args[1]), out _)); // the trace a replayops input stands for
                return 0;
            default:
                break;
        }

        var target = Targets.Get(args[0]);
        Targets.CoverageGuided = true;
        if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
        {
            Fuzzer.LibFuzzer.Run(span => FuzzCheck.Run(target, span.ToArray()));
            return 0;
        }

        if (Environment.GetEnvironmentVariable("__AFL_SHM_ID") is not null)
        {
            Fuzzer.Run(stream =>
            {
                var copy = new MemoryStream();
                stream.CopyTo(copy);
                FuzzCheck.Run(target, copy.ToArray());
            });
            return 0;
        }

        throw new ArgumentException("TARGET alone runs under libFuzzer or afl-fuzz (scripts/fuzz.sh); to run files use 'run TARGET FILE...'");
    }

    private static int WriteSeeds(FuzzTarget target, string dir)
    {
        Directory.CreateDirectory(dir);
        var seeds = target.Seeds(true);
        for (int i = 0; i < seeds.Count; i++)
        {
            File.WriteAllBytes(Path.Combine(dir, $"seed-{i:D3}"), seeds[i]);
        }

        Console.WriteLine($"{target.Name}: {seeds.Count} seeds in {dir}");
        return 0;
    }

    private static int RunFiles(FuzzTarget target, string[] files)
    {
        using var allocations = Environment.GetEnvironmentVariable("FASTRMP_FUZZ_ALLOCS") == "1" ? new AllocationTrace() : null;
        int failed = 0;
        foreach (string file in files.SelectMany<string, string>(f => Directory.Exists(f) ? Directory.EnumerateFiles(f).Order(StringComparer.Ordinal) : [f]))
        {
            byte[] data = File.ReadAllBytes(file);
            try
            {
                var o = FuzzCheck.Run(target, data);
                Console.WriteLine($"ok    {file}: {data.Length} bytes, {o.Records} records{(o.Refused ? ", refused" : "")}, {o.Elapsed.TotalMilliseconds:F1} ms, {o.AllocatedBytes >> 10} KiB allocated");
            }
            catch (Exception ex)
            {
                failed++;
                Console.WriteLine($"FAIL  {file}: {ex}");
            }
        }

        return failed == 0 ? 0 : 1;
    }

    private static int Ci(string[] args)
    {
        double seconds = 10;
        int seed = BoundedRun.DefaultSeed();
        var names = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seed" when i + 1 < args.Length:
                    seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    names.Add(args[i]);
                    break;
            }
        }

        var targets = names.Count == 0 ? Targets.All : [.. names.Select(Targets.Get)];
        Console.WriteLine($"fuzz seed {seed} (repeat with --seed {seed}), {seconds} s per target");
        int passed = 0, failed = 0;
        foreach (var target in targets)
        {
            try
            {
                var s = BoundedRun.Run(target, seed, TimeSpan.FromSeconds(seconds), failureDir: Path.Combine("artifacts", "fuzz", "failures"));
                Console.WriteLine($"{target.Name}: {s.Inputs} inputs ({s.Refused} refused, {s.Records} records), slowest {s.Slowest.TotalMilliseconds:F0} ms, most allocated {s.MostAllocated >> 20} MiB");
                passed++;
            }
            catch (FuzzFailureException ex)
            {
                Console.WriteLine($"FAIL {ex.Message}");
                Console.WriteLine(ex.InnerException);
                failed++;
            }
        }

        Console.WriteLine($"fuzz: {passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
