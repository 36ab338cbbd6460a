using System.Text.Json;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

/// <summary>How replay and compare report agreement with the trace: stuck accesses, nothing compared, the trace column, disagreements.</summary>
public sealed class ReplayFidelityReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-fidelity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    /// <summary>One private fault and nothing after it: the trace shows no decision to compare.</summary>
    private string OneUnresolvedFault()
    {
        string path = PathOf("one.txt");
        File.WriteAllText(path, "# tracer: nop\n       CPU 0/KVM-7001    [001] .....   100.000010: kvm_page_fault: vcpu 0 rip 0x0 address 0x0000000000100000 error_code 0x500000004\n");
        return path;
    }

    [Fact]
    public void Nothing_compared_reads_n_a_in_the_table_null_in_json_and_n_a_in_html()
    {
        var (exit, output, err) = CliRunner.Run("replay", OneUnresolvedFault(), "--host-size", "4G", "--json", PathOf("one.json"), "--html", PathOf("one.html"));
        Assert.True(exit == 0, err);
        string row = output.Split('\n').Single(l => l.Contains("agreement with the trace", StringComparison.Ordinal));
        Assert.Contains("n/a", row, StringComparison.Ordinal);
        Assert.DoesNotContain("%", row, StringComparison.Ordinal);
        var fidelity = Json(PathOf("one.json")).GetProperty("runs")[0].GetProperty("fidelity");
        Assert.Equal(JsonValueKind.Null, fidelity.GetProperty("agreement_rate").ValueKind);
        Assert.Equal(0, fidelity.GetProperty("exits_compared").GetInt64());
        Assert.Contains("agrees with the trace on n/a of decisions", File.ReadAllText(PathOf("one.html")), StringComparison.Ordinal);
    }

    [Fact]
    public void Stuck_accesses_under_1g_folios_are_compared_and_not_agreed()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 400, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("compare", trace, "--policies", "first-use", "--folio", "1g", "--host-size", "64G", "--json", PathOf("g.json"), "--html", PathOf("g.html"));
        Assert.True(exit == 0, err);
        var run = Json(PathOf("g.json")).GetProperty("runs")[0];
        long stuck = run.GetProperty("counters").GetProperty("stuck_accesses").GetInt64();
        var f = run.GetProperty("fidelity");
        Assert.True(stuck > 0);
        Assert.Equal(stuck, f.GetProperty("stuck_compared").GetInt64());

        // every traced fault is compared (the fixture traces an outcome for each), stuck ones included
        Assert.Equal(written.Faults, f.GetProperty("exits_compared").GetInt64());
        Assert.Equal(written.Faults - written.SharedConversions, f.GetProperty("levels_compared").GetInt64());
        Assert.True(f.GetProperty("exits_agreed").GetInt64() <= written.Faults - stuck);
        Assert.Contains("stuck accesses (compared, not agreed)", output, StringComparison.Ordinal);

        // the page says it too, in the run's card, with the first disagreement of each kind and its reason
        string html = File.ReadAllText(PathOf("g.html"));
        Assert.Contains($"<li>{stuck:N0} stuck accesses (compared, not agreed)</li>", html, StringComparison.Ordinal);
        Assert.Contains("first exit disagreement (", html, StringComparison.Ordinal);
        Assert.Contains("model stuck; the model could not complete the access", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_trace_column_shows_what_the_trace_did_beside_the_policies_and_in_json()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 300, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("compare", trace, "--policies", "first-use,alloc-blind", "--host-size", "64G", "--json", PathOf("c.json"));
        Assert.True(exit == 0, err);

        // By the fixture's construction: each shared access faults twice (the exit, then the retry mapped), both
        // shared; every other fault is private and mapped at 4K; the conversions are the two slots' attribute changes
        // plus, per shared access, QEMU's conversion and the kernel's attribute change.
        long shared = written.SharedConversions;
        var vm = Assert.Single(Json(PathOf("c.json")).GetProperty("vms").EnumerateArray());
        Assert.Equal("trace", vm.GetProperty("memslot_source").GetString());
        var t = vm.GetProperty("traced");
        Assert.Equal(
            (written.Faults, written.Faults - (2 * shared), 2 * shared, 0L, shared, written.Faults - shared, 0L, 0L, 2 + (2 * shared), 1L, 2L),
            (t.GetProperty("faults").GetInt64(), t.GetProperty("faults_private").GetInt64(), t.GetProperty("faults_shared").GetInt64(),
             t.GetProperty("faults_unresolved").GetInt64(), t.GetProperty("memory_fault_exits").GetInt64(), t.GetProperty("levels").GetProperty("4k").GetInt64(),
             t.GetProperty("levels").GetProperty("2m").GetInt64(), t.GetProperty("rmp_faults").GetInt64(), t.GetProperty("conversions").GetInt64(),
             t.GetProperty("launch_updates").GetInt64(), t.GetProperty("memslot_events").GetInt64()));
        Assert.Equal(
            [(0, "0x0", "0x80000000", true), (1, "0x100000000", "0x180000000", true)],
            vm.GetProperty("memslots").EnumerateArray().Select(m => (m.GetProperty("slot").GetInt32(), m.GetProperty("gpa_start").GetString()!, m.GetProperty("gpa_end").GetString()!, m.GetProperty("guest_memfd").GetBoolean())));

        // the table: a trace column next to the policies, the trace-only rows blank under them
        string header = output.Split('\n').First(l => l.Contains("counter", StringComparison.Ordinal));
        Assert.True(header.IndexOf("trace", StringComparison.Ordinal) < header.IndexOf("first-use", StringComparison.Ordinal), header);
        string[] faultsRow = output.Split('\n').Single(l => l.Contains("traced faults ", StringComparison.Ordinal) && !l.Contains("without", StringComparison.Ordinal)).Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["traced faults", written.Faults.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)], faultsRow); // the policies' cells are empty
        Assert.Contains("slot 1: 0x100000000-0x180000000 (2 GiB), guest_memfd", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_disagreement_goes_to_the_jsonl_file_and_the_terminal_shows_alike_policies_once()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 300, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("compare", trace, "--policies", "first-use,alloc-blind,fault-hook", "--folio", "2m", "--host-size", "64G", "--json", PathOf("c.json"), "--disagreements", PathOf("d.jsonl"));
        Assert.True(exit == 0, err);
        var runs = Json(PathOf("c.json")).GetProperty("runs").EnumerateArray().ToArray();
        var lines = File.ReadAllLines(PathOf("d.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();

        // all of them, not the first ten: as many lines per policy as the run counted
        foreach (var run in runs)
        {
            string policy = run.GetProperty("policy").GetString()!;
            Assert.Equal(run.GetProperty("fidelity").GetProperty("disagreements").GetInt64(), lines.Count(l => l.GetProperty("policy").GetString() == policy));
        }

        Assert.True(lines.Length > 3 * 10, $"{lines.Length} lines");
        Assert.All(lines, l => Assert.Contains(l.GetProperty("category").GetString(), (string[])["level", "exit", "rmp-region"]));

        // a level disagreement is a fault the trace mapped: the fixture maps every fault at 4K, its vCPU v runs on CPU v
        // as thread 7001 + v, and the gfn is the gpa's page
        var levels = lines.Where(l => l.GetProperty("category").GetString() == "level").ToArray();
        Assert.NotEmpty(levels);
        Assert.All(levels, l =>
        {
            Assert.Equal((1, "4K"), (l.GetProperty("traced_level").GetInt32(), l.GetProperty("trace").GetString()));
            Assert.Equal(l.GetProperty("pid").GetInt32() - 7001, l.GetProperty("cpu").GetInt32());
            Assert.Equal(Convert.ToUInt64(l.GetProperty("gpa").GetString(), 16) >> 12, Convert.ToUInt64(l.GetProperty("gfn").GetString(), 16));
            Assert.StartsWith("0x", l.GetProperty("traced_pfn").GetString(), StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(l.GetProperty("why").GetString()));
        });

        // first-use and alloc-blind take the same first 2M decisions where the trace mapped 4K: one table for both
        string[] titles = [.. output.Split('\n').Where(l => l.Contains("first level disagreements", StringComparison.Ordinal))];
        Assert.Contains(titles, t => t.Contains("first-use (", StringComparison.Ordinal) && t.Contains("alloc-blind (", StringComparison.Ordinal));
        Assert.Single(titles, t => t.Contains("first-use (", StringComparison.Ordinal));
    }

    [Fact]
    public void The_exported_trace_keeps_each_faults_vcpu_and_names_the_vcpu_threads()
    {
        string trace = PathOf("snp.dat"), exported = PathOf("model.dat");
        var written = SnpTraceFixture.Write(trace, faults: 200, sharedEvery: 20);
        var (exit, _, err) = CliRunner.Run("replay", trace, "--host-size", "64G", "--export-trace", exported);
        Assert.True(exit == 0, err);
        (exit, string events, err) = CliRunner.Run("events", exported, "--event", "kvm:kvm_page_fault");
        Assert.True(exit == 0, err);

        // the fixture's vCPU v is thread 7001 + v, named "CPU v/KVM" in its trace, faulting on CPU v
        string[] faults = [.. events.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
        Assert.Equal(written.Faults, faults.Length);
        Assert.All(faults, line =>
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"\[(\d+)\] CPU (\d+)/KVM-(\d+) kvm:kvm_page_fault: vcpu_id=(\d+) ");
            Assert.True(m.Success, line);
            int cpu = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal((cpu, cpu, 7001 + cpu), (int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)));
        });
        Assert.Equal(4, faults.Select(l => l.Split(' ')[3]).Distinct().Count()); // all four vCPU threads ("v/KVM-7001+v") appear
    }

    [Fact]
    public void Html_maps_are_cropped_to_the_used_part_of_a_large_host()
    {
        // a 1 TiB host (524,288 regions) of which region 1000 is the last one used, and one run without a map
        var used = new FastRmp.Engine.Reports.HostRegionState[524_288];
        used[3] = FastRmp.Engine.Reports.HostRegionState.Private4K;
        used[1000] = FastRmp.Engine.Reports.HostRegionState.Shared;
        var runs = new List<FastRmp.Cli.Reports.ReportRun>
        {
            new("a", "4k", [], FastRmp.Engine.Reports.HostMemoryMap.FromRegions(524_288UL * 512, used)),
            new("b", "4k", [], null),
        };
        string note = FastRmp.Cli.Commands.ReplayCommands.CropMaps(runs);

        // up to region 1000, rounded up to 1 GiB (512 regions): 1024 regions, 2 GiB
        Assert.Equal("; host maps cropped to the first 2 GiB of 1 TiB (the rest is free in every run)", note);
        Assert.Equal(1024, runs[0].Map!.Regions.Length);
        Assert.Equal(524_288UL * 512, runs[0].HostPages);
        Assert.Equal(FastRmp.Engine.Reports.HostRegionState.Shared, runs[0].Map!.Regions[1000]);
        Assert.Null(runs[1].Map);

        // a host used past its half is left whole
        var half = new FastRmp.Engine.Reports.HostRegionState[4096];
        half[2600] = FastRmp.Engine.Reports.HostRegionState.Private2M;
        var whole = new List<FastRmp.Cli.Reports.ReportRun> { new("c", "2m", [], FastRmp.Engine.Reports.HostMemoryMap.FromRegions(4096UL * 512, half)) };
        Assert.Equal("", FastRmp.Cli.Commands.ReplayCommands.CropMaps(whole));
        Assert.Equal(4096, whole[0].Map!.Regions.Length);
    }

    [Fact]
    public void Replay_html_on_a_1_TiB_host_shows_the_guests_part()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 200, sharedEvery: 20);
        var (exit, _, err) = CliRunner.Run("replay", trace, "--host-size", "1T", "--html", PathOf("r.html"));
        Assert.True(exit == 0, err);
        string html = File.ReadAllText(PathOf("r.html"));

        // the fixture's pfns start at 0x100000 (4 GiB: region 2048), so the used part rounds up to 5 GiB
        Assert.Contains("host maps cropped to the first 5 GiB of 1 TiB", html, StringComparison.Ordinal);
        Assert.Contains("host 1 TiB, shown: the first 5 GiB (the rest is free)", html, StringComparison.Ordinal);
        Assert.Contains("\"regions\":2560", html, StringComparison.Ordinal);
    }
}
