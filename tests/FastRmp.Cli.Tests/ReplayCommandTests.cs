using System.Text.Json;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Cli.Tests;

public sealed class ReplayCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    private static long Counter(JsonElement run, string name) => run.GetProperty("counters").GetProperty(name).GetInt64();

    [Fact]
    public void Replay_of_a_first_use_host_agrees_with_the_trace_under_first_use()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 4000, sharedEvery: 20);
        var (exit, output, err) = CliRunner.Run("replay", trace, "--policy", "first-use", "--host-size", "64G", "--verify", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("agreement with the trace", output, StringComparison.Ordinal);
        var json = Json(PathOf("r.json"));
        var run = json.GetProperty("runs")[0];
        Assert.Equal("trace", run.GetProperty("memslot_source").GetString());
        Assert.False(run.TryGetProperty("invariant_violation", out _));
        var fidelity = run.GetProperty("fidelity");
        Assert.Equal(1.0, fidelity.GetProperty("agreement_rate").GetDouble());
        Assert.Equal(written.Faults, fidelity.GetProperty("exits_compared").GetInt64());
        Assert.Equal(written.SharedConversions, Counter(run, "memory_fault_exits"));
        Assert.Equal(written.Faults - written.SharedConversions, fidelity.GetProperty("levels_compared").GetInt64());
        Assert.Equal(0, Counter(run, "rmpupdate_2m"));
        Assert.Equal(0, Counter(run, "psmash"));

        // each traced fault is one model fault; every private 4K folio is prepared once, plus the 16 launch pages
        Assert.Equal(written.Faults, Counter(run, "faults_private") + Counter(run, "faults_shared"));
        Assert.Equal(Counter(run, "faults_private") + 16, Counter(run, "rmpupdate_4k"));
        Assert.Equal(written.DistinctGfns, Counter(run, "pfns_from_trace")); // every traced pfn claimed in the model's allocator
        Assert.Equal(written.Records, json.GetProperty("trace").GetProperty("records").GetInt64());
    }

    [Fact]
    public void Two_vms_started_in_the_trace_are_replayed_apart_each_as_if_alone()
    {
        string both = PathOf("two.dat"), alone = PathOf("one.dat");
        var written = SnpTraceFixture.WriteVms(both, vms: 2, faultsEach: 1500);
        var (exit, output, err) = CliRunner.Run("compare", both, "--policies", "first-use,alloc-blind", "--host-size", "64G", "--json", PathOf("two.json"), "--html", PathOf("two.html"));
        Assert.True(exit == 0, err);
        string html = File.ReadAllText(PathOf("two.html"));
        Assert.Contains("VM 7000 (qemu-system-x86): folio 4k", html, StringComparison.Ordinal); // one comparison group per VM
        Assert.Contains("VM 8000 (qemu-system-x86): folio 4k", html, StringComparison.Ordinal);
        var json = Json(PathOf("two.json"));
        Assert.Equal(2, json.GetProperty("trace").GetProperty("vms").GetInt32());
        Assert.Equal(2 * 3, json.GetProperty("trace").GetProperty("threads_with_process").GetInt64()); // 2 QEMU main threads + 2x2 vCPU threads
        var runs = json.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(
            [(7000, "qemu-system-x86", "first-use"), (7000, "qemu-system-x86", "alloc-blind"), (8000, "qemu-system-x86", "first-use"), (8000, "qemu-system-x86", "alloc-blind")],
            runs.Select(r => (r.GetProperty("vm").GetProperty("process").GetInt32(), r.GetProperty("vm").GetProperty("name").GetString()!, r.GetProperty("policy").GetString()!)));
        Assert.Contains("VM 8000 (qemu-system-x86): memslots from QEMU's kvm_set_user_memory events", output, StringComparison.Ordinal);

        // each VM replays exactly as the same VM traced alone (the first one, whose trace is written with the same seed)
        SnpTraceFixture.WriteVms(alone, vms: 1, faultsEach: 1500);
        Assert.True(CliRunner.Run("compare", alone, "--policies", "first-use,alloc-blind", "--host-size", "64G", "--json", PathOf("one.json")).Exit == 0);
        var single = Json(PathOf("one.json")).GetProperty("runs").EnumerateArray().ToArray();
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(single[i].GetProperty("counters").ToString(), runs[i].GetProperty("counters").ToString());
        }

        for (int vm = 0; vm < 2; vm++)
        {
            var run = runs[2 * vm];
            Assert.Equal(1.0, run.GetProperty("fidelity").GetProperty("agreement_rate").GetDouble());
            Assert.Equal(written[vm].Faults, Counter(run, "replay_faults"));
            Assert.Equal(written[vm].DistinctGfns, Counter(run, "pfns_from_trace"));
            Assert.Equal(0, Counter(run, "memslot_errors"));
        }
    }

    [Fact]
    public void Threads_change_how_the_trace_is_read_and_replayed_never_what_compare_prints()
    {
        string trace = PathOf("vms.dat");
        SnpTraceFixture.WriteVms(trace, vms: 2, faultsEach: 3000);
        string Compare(string threads, string json, bool log)
        {
            string[] args = ["compare", trace, "--policies", "first-use,alloc-blind,every-get-pfn", "--folio", "2m", "--host-size", "64G", "--threads", threads, "--json", PathOf(json)];
            var (exit, output, err) = CliRunner.Run(log ? [.. args, "--disagreements", PathOf(json + ".jsonl")] : args);
            Assert.True(exit == 0, err);
            // everything but the time the replay took
            return System.Text.RegularExpressions.Regex.Replace(output, @"replayed in [0-9.]+ s \([0-9.]+ M records/s\)", "replayed");
        }

        // --threads 2: reading ahead and the models on two threads; with --disagreements the models stay on one (the
        // log is written in order), the reading still goes ahead
        string one = Compare("1", "one.json", log: false), two = Compare("2", "two.json", log: false);
        Assert.DoesNotContain("records/s", one, StringComparison.Ordinal); // the timing was taken out
        Assert.Equal(one, two);
        Assert.Equal(Json(PathOf("one.json")).GetProperty("runs").ToString(), Json(PathOf("two.json")).GetProperty("runs").ToString());
        Assert.Equal(one, Compare("1", "one-log.json", log: true));
        Assert.Equal(one, Compare("2", "two-log.json", log: true));
        string logged = File.ReadAllText(PathOf("one-log.json.jsonl"));
        Assert.Contains("\"level\"", logged, StringComparison.Ordinal); // 2M folios against the traced 4K host disagree
        Assert.Equal(logged, File.ReadAllText(PathOf("two-log.json.jsonl")));
    }

    [Fact]
    public void Without_process_events_two_vms_are_replayed_as_one()
    {
        string both = PathOf("two.dat");
        var written = SnpTraceFixture.WriteVms(both, vms: 2, faultsEach: 300, processEvents: false);
        var (exit, _, err) = CliRunner.Run("replay", both, "--host-size", "64G", "--json", PathOf("two.json"));
        Assert.True(exit == 0, err);
        var json = Json(PathOf("two.json"));
        Assert.Equal(1, json.GetProperty("trace").GetProperty("vms").GetInt32());
        var run = json.GetProperty("runs")[0];
        Assert.Equal(0, run.GetProperty("vm").GetProperty("process").GetInt32());
        Assert.Equal(written[0].Faults + written[1].Faults, Counter(run, "replay_faults"));
        Assert.Equal(0, json.GetProperty("trace").GetProperty("threads_with_process").GetInt64());
    }

    [Fact]
    public void Compare_replays_every_policy_in_one_pass_and_2m_folios_disagree_with_a_4k_host()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 3000, sharedEvery: 0);
        var (exit, output, err) = CliRunner.Run("compare", trace, "--folio", "2m", "--host-size", "64G", "--verify", "--json", PathOf("c.json"), "--html", PathOf("c.html"));
        Assert.True(exit == 0, err);
        var runs = Json(PathOf("c.json")).GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(FastRmp.Engine.Policies.PolicyCatalog.Names, runs.Select(r => r.GetProperty("policy").GetString()!));
        foreach (var run in runs)
        {
            // the traced host mapped every fault at 4K; with 2M folios on fully private memory the model maps 2M
            var f = run.GetProperty("fidelity");
            Assert.Equal(3000, f.GetProperty("levels_compared").GetInt64());
            Assert.True(f.GetProperty("levels_agreed").GetInt64() < 3000, run.GetProperty("policy").GetString());
            Assert.True(f.GetProperty("first").GetArrayLength() > 0);
            Assert.Equal("level", f.GetProperty("first")[0].GetProperty("what").GetString());
        }

        Assert.Contains("level disagreements with the trace", output, StringComparison.Ordinal);
        string html = File.ReadAllText(PathOf("c.html"));
        Assert.All(FastRmp.Engine.Policies.PolicyCatalog.Names, p => Assert.Contains(p, html, StringComparison.Ordinal));
        Assert.Contains("agrees with the trace", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_qemu_events_the_memslots_are_inferred_and_said_so()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 500, qemuEvents: false);
        var (exit, output, err) = CliRunner.Run("replay", trace, "--host-size", "64G", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        Assert.Contains("inferred", output, StringComparison.Ordinal);
        var run = Json(PathOf("r.json")).GetProperty("runs")[0];
        Assert.Equal("inferred", run.GetProperty("memslot_source").GetString());
        Assert.InRange(Counter(run, "inferred_slots"), 1, 4); // 1 GiB slots around 4 GiB of guest memory
        Assert.Equal(written.Faults, Counter(run, "replay_faults"));
        Assert.Equal(0, Counter(run, "replay_mmio"));
    }

    [Fact]
    public void Memslot_file_overrides_the_trace_and_bad_files_are_one_line_errors()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 200);
        string good = PathOf("slots.json");
        File.WriteAllText(good, $$"""
            [{"slot": 0, "flags": 4, "guest_phys_addr": 0, "memory_size": "0x{{SnpTraceFixture.LowSlotBytes:x}}", "guest_memfd": 3},
             {"slot": 1, "flags": 4, "guest_phys_addr": "0x{{SnpTraceFixture.HighBase:x}}", "memory_size": "0x{{SnpTraceFixture.HighSlotBytes:x}}", "guest_memfd": 3, "guest_memfd_offset": "0x{{SnpTraceFixture.LowSlotBytes:x}}"}]
            """);
        var (exit, _, err) = CliRunner.Run("replay", trace, "--memslots", good, "--host-size", "64G", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        var run = Json(PathOf("r.json")).GetProperty("runs")[0];
        Assert.Equal("file", run.GetProperty("memslot_source").GetString());
        Assert.Equal(2, Counter(run, "memslot_events_ignored"));
        Assert.Equal(1.0, run.GetProperty("fidelity").GetProperty("agreement_rate").GetDouble());

        foreach (var (json, message) in new[]
        {
            ("""[{"slot": 0, "guest_phys_addr": 0, "memory_size": 8192}, {"slot": 1, "guest_phys_addr": 4096, "memory_size": 4096}]""", "overlap"),
            ("""[{"slot": 0, "guest_phys_addr": 0, "memory_size": 100}]""", "4 KiB-aligned"),
            ("""[{"slot": 0, "guest_phys_addr": 0}]""", "'memory_size' is missing"),
            ("""[{"slot": 0, "guest_phys_addr": 0, "memory_size": 4096, "size": 1}]""", "unknown field 'size'"),
            ("""{"slot": 0}""", "expected a JSON array"),
            ("""[{"slot": 0, """, "not JSON"),
        })
        {
            string bad = PathOf("bad.json");
            File.WriteAllText(bad, json);
            var (code, output, error) = CliRunner.Run("replay", trace, "--memslots", bad);
            Assert.Equal(1, code);
            Assert.Empty(output);
            Assert.Contains(message, error, StringComparison.Ordinal);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
    }

    // Bad --policies, --host-size and --vm-type values moved to UsageErrorTests: they exit 2 now (issue 13).
    [Fact]
    public void Bad_trace_inputs_are_one_line_errors_with_exit_1()
    {
        string sched = PathOf("sched.txt");
        File.WriteAllText(sched, "# tracer: nop\n#\n          <idle>-0       [000] d..2.   100.000001: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=bash next_pid=42 next_prio=120\n");
        foreach (var (args, message) in new[]
        {
            (new[] { "replay", PathOf("missing.dat") }, "no such file"),
            (new[] { "replay", _dir }, "is a directory"),
            (new[] { "replay", sched }, "no KVM events"),
            (new[] { "replay", PathOf("missing.dat"), "--memslots", PathOf("missing.json") }, "missing.json"),
        })
        {
            var (exit, output, err) = CliRunner.Run(args);
            Assert.True(exit == 1, string.Join(' ', args) + ": " + err);
            Assert.Contains(message, err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
            Assert.Empty(output);
        }
    }

    [Fact]
    public void A_damaged_trace_keeps_everything_outside_the_damage()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 2000);
        var bytes = File.ReadAllBytes(trace);
        bytes.AsSpan(bytes.Length / 2, 5000).Fill(0xff); // two sub-buffers of CPU data
        File.WriteAllBytes(trace, bytes);
        var (exit, output, err) = CliRunner.Run("replay", trace, "--host-size", "64G", "--json", PathOf("r.json"));
        Assert.True(exit == 0, err);
        var json = Json(PathOf("r.json"));
        Assert.True(json.GetProperty("trace").GetProperty("damaged_regions").GetInt64() > 0);
        long faults = json.GetProperty("runs")[0].GetProperty("counters").GetProperty("replay_faults").GetInt64();
        Assert.InRange(faults, written.Faults / 2, written.Faults - 1);
        Assert.Contains("damaged regions", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_cut_short_is_a_one_line_error()
    {
        string trace = PathOf("snp.dat");
        SnpTraceFixture.Write(trace, faults: 500);
        var bytes = File.ReadAllBytes(trace);
        File.WriteAllBytes(trace, bytes[..(bytes.Length / 2)]);
        var (exit, output, err) = CliRunner.Run("replay", trace);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Contains("past the end of the file", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void The_exported_trace_replays_to_the_same_decisions()
    {
        string trace = PathOf("snp.dat");
        var written = SnpTraceFixture.Write(trace, faults: 1500, sharedEvery: 15);
        string exported = PathOf("model.dat");
        var (exit, _, err) = CliRunner.Run("replay", trace, "--folio", "2m", "--host-size", "64G", "--export-trace", exported, "--json", PathOf("a.json"));
        Assert.True(exit == 0, err);
        (exit, _, err) = CliRunner.Run("replay", exported, "--folio", "2m", "--host-size", "64G", "--json", PathOf("b.json"));
        Assert.True(exit == 0, err);
        var a = Json(PathOf("a.json")).GetProperty("runs")[0];
        var b = Json(PathOf("b.json")).GetProperty("runs")[0];

        // The model's own run, replayed, agrees with itself everywhere and repeats its faults and mappings.
        Assert.Equal(1.0, b.GetProperty("fidelity").GetProperty("agreement_rate").GetDouble());
        Assert.Equal(written.Faults, b.GetProperty("fidelity").GetProperty("exits_compared").GetInt64());
        foreach (string counter in new[] { "faults_private", "faults_shared", "memory_fault_exits", "npt_4k", "npt_2m", "rmp_npf", "psmash" })
        {
            Assert.True(Counter(a, counter) == Counter(b, counter), counter);
        }

        Assert.Equal(Counter(a, "replay_faults"), Counter(b, "replay_faults"));
    }

    [Fact]
    public void Every_public_sample_replays_or_is_refused_in_one_line()
    {
        string dir = Samples.Path_("text-public");
        if (!Directory.Exists(dir))
        {
            Assert.Skip($"{dir} is absent (../shared/samples)");
        }

        foreach (string file in Directory.GetFiles(dir).Concat(Directory.GetFiles(Samples.Path_("tracecmd-dat"), "*.dat")))
        {
            var (exit, output, err) = CliRunner.Run("replay", file, "--host-size", "64G");
            Assert.True(exit is 0 or 1, $"{file}: {exit} {err}");
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
            if (exit == 0)
            {
                // a table, or (KVM events but no fault, memslot or conversion, e.g. only exits) the one-line note
                Assert.True(output.Contains("agreement with the trace", StringComparison.Ordinal) || output.Contains("nothing to replay", StringComparison.Ordinal), output);
            }
            else
            {
                Assert.Single(err.TrimEnd().Split('\n'));
            }
        }

        // the SNP host sample: four private faults on guest_memfd, replayed on inferred slots
        var (code, text, _) = CliRunner.Run("replay", Path.Combine(dir, "amd-snp-host-kvm_page_fault-guest_memfd-mroth-2023.txt"), "--host-size", "64G", "--json", PathOf("s.json"));
        Assert.Equal(0, code);
        var run = Json(PathOf("s.json")).GetProperty("runs")[0];
        Assert.Equal(4, Counter(run, "faults_private"));
        Assert.Equal("inferred", run.GetProperty("memslot_source").GetString());
        Assert.Contains("inferred", text, StringComparison.Ordinal);
    }
}
