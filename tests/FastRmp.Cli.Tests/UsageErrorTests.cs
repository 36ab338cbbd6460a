using FastRmp.Engine.Policies;

namespace FastRmp.Cli.Tests;

/// <summary>
/// The command line's two kinds of mistakes (docs/cli.md): a bad option value is a usage error, exit 2, one line that
/// names the allowed values (then where help is); an input that cannot be read is an input error, exit 1, one line.
/// </summary>
public sealed class UsageErrorTests : IDisposable
{
    private static readonly string s_policies = string.Join(", ", PolicyCatalog.AllNames);

    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-usage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Trace()
    {
        // A real trace, so only the option under test is wrong.
        string path = Path.Combine(_dir, "t.txt");
        File.WriteAllText(path, "# tracer: nop\n       CPU 0/KVM-7001    [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n");
        return path;
    }

    public static TheoryData<string[], string> BadValues() => new()
    {
        { ["scenario", "share-4k-keep", "--policy", "nope"], $"--policy: unknown policy 'nope'; the policies are {s_policies}, tdx, tdx-2m." },
        { ["scenario", "share-4k-keep", "--folio", "3m"], "--folio: '3m' is not a folio size; use 4k, 2m or 1g." },
        { ["--folio", "8k"], "--folio: '8k' is not a folio size; use 4k, 2m or 1g." },
        { ["scenario", "nope"], "unknown scenario 'nope'; the scenarios are share-4k-keep, share-4k-punch, dirty-log, memslots-512, psmash-roundtrip, snp-boot, share-busy, init-shared, teardown-rmpopt, td-boot, accept-mismatch, dpamt-growth." },
        { ["scenario", "snp-boot", "--guest-size", "12Q"], "--guest-size: '12Q' is not a size; give a number with K, M, G or T (binary units), e.g. 64G, from 16M to 1T." },
        { ["scenario", "snp-boot", "--guest-size", "8M"], "--guest-size: 8M is outside 16M to 1T." },
        { ["replay", "TRACE", "--policy", "nope"], $"--policy: unknown policy 'nope'; the policies are {s_policies}, tdx, tdx-2m." },
        { ["replay", "TRACE", "--folio", "2g"], "--folio: '2g' is not a folio size; use auto, 4k, 2m or 1g." },
        { ["replay", "TRACE", "--vm-type", "sev"], "--vm-type: 'sev' is not a VM type; use snp or sw-protected or tdx." },
        { ["replay", "TRACE", "--host-size", "lots"], "--host-size: 'lots' is not a size; give a number with K, M, G or T (binary units), e.g. 64G, from 1G to 4T." },
        { ["replay", "TRACE", "--host-size", "8T"], "--host-size: 8T is outside 1G to 4T." },
        { ["compare", "TRACE", "--policies", "first-use,nope"], $"--policies: unknown policy 'nope'; the policies are {s_policies} (with --vm-type tdx: tdx, tdx-2m)." },
        { ["compare", "TRACE", "--policies", "first-use,first-use"], $"--policies: 'first-use' is named twice; name each policy once (the policies are {s_policies})." },
        { ["compare", "TRACE", "--policies", ","], $"--policies: name at least one policy of {s_policies}." },
        { ["layouts", "--gmem", "maybe"], "--gmem: unknown gmem block setting 'maybe'; use one of default, present, absent." },
        { ["events", "TRACE", "--format", "xml"], "--format: unknown format 'xml'; use one of text, jsonl." },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void A_bad_value_exits_2_naming_the_allowed_values(string[] args, string message)
    {
        string trace = Trace();
        var (exit, output, err) = CliRunner.Run([.. args.Select(a => a == "TRACE" ? trace : a)]);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Equal([$"fastrmp: {message}", "Run 'fastrmp --help' for usage."], err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Repeated_policies_are_one_list()
    {
        string json = Path.Combine(_dir, "r.json");
        var (exit, _, err) = CliRunner.Run("compare", Trace(), "--policies", "first-use", "--policies", "alloc-blind", "--host-size", "4G", "--json", json);
        Assert.True(exit == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(["first-use", "alloc-blind"], doc.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("policy").GetString()));
    }

    [Theory]
    [InlineData("replay")]
    [InlineData("compare")]
    [InlineData("info")]
    [InlineData("events")]
    public void A_missing_input_file_exits_1(string command)
    {
        string missing = Path.Combine(_dir, "missing.dat");
        var (exit, output, err) = CliRunner.Run(command, missing);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Equal([$"fastrmp: {missing}: no such file"], err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_missing_memslot_file_exits_1()
    {
        string missing = Path.Combine(_dir, "slots.json");
        var (exit, _, err) = CliRunner.Run("replay", Trace(), "--memslots", missing);
        Assert.Equal(1, exit);
        Assert.StartsWith($"fastrmp: --memslots: cannot read {missing}", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("replay", "--policy <fault-hook|alloc-blind|first-use|every-get-pfn|first-use-1g-rework|tdx|tdx-2m>")]
    [InlineData("replay", "--folio <auto|4k|2m|1g>")]
    [InlineData("replay", "--vm-type <snp|sw-protected|tdx>")]
    [InlineData("replay", "[default: 1T]")]
    [InlineData("compare", "--policies <fault-hook,alloc-blind,first-use,every-get-pfn>")]
    [InlineData("scenario", "The scenario: share-4k-keep, share-4k-punch, dirty-log, memslots-512, psmash-roundtrip, snp-boot, share-busy, init-shared, teardown-rmpopt")]
    [InlineData("scenario", "[default: 4k]")]
    [InlineData("layouts", "--gmem <default|present|absent>")]
    public void Help_shows_the_allowed_values(string command, string expected)
    {
        var (exit, output, _) = CliRunner.Run(command, "--help");
        Assert.Equal(0, exit);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }
}
