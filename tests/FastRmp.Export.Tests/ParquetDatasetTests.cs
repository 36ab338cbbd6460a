using FastRmp.Engine.Replay;
using FastRmp.Export.Parquet;
using FastRmp.Export.Sql;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Writing;
using FastRmp.Interop.Uapi;
using FastRmp.Tests.Common;

namespace FastRmp.Export.Tests;

public sealed class ParquetDatasetTests
{
    /// <summary>What the test wrote with the trace writer, kept to check the Parquet rows against.</summary>
    private sealed record Written(int Faults, ulong GpaSum, ulong ErrorSum, int Sptes, ulong PfnSum, List<string> Prints, ulong FirstTs, ulong LastTs);

    private static Written WriteTrace(string path, int faults, int sptes, int seed, int version = 7)
    {
        var w = new KvmTraceWriter(new TraceDatWriterOptions(version, "none", 2));
        w.Writer.AddCmdline(101, "CPU 0/KVM");
        w.Writer.AddCmdline(102, "CPU 1/KVM");
        var rng = new Random(seed);
        ulong ts = 5_000_000_000, first = ts, gpaSum = 0, errSum = 0, pfnSum = 0;
        var prints = new List<string>();
        for (int i = 0; i < Math.Max(faults, sptes); i++)
        {
            int cpu = i & 1;
            if (i < faults)
            {
                ulong gpa = (ulong)rng.NextInt64(0, 1L << 40) & ~0xFFFUL;
                ulong err = (ulong)rng.NextInt64(0, 1L << 36);
                w.PageFault(cpu, ts++, 101 + cpu, (uint)cpu, gpa, err);
                gpaSum += gpa;
                errSum += err;
            }

            if (i < sptes)
            {
                ulong pfn = (ulong)rng.NextInt64(0, 1L << 30);
                w.SpteRequested(cpu, ts++, 101 + cpu, (ulong)i, pfn, 1 + (i % 2));
                pfnSum += pfn;
            }

            if (i % 97 == 0)
            {
                string text = $"kvm_convert_memory start 0x{i:x}000 size 0x1000 to_shared";
                w.QemuEvent(cpu, ts++, 100, text);
                prints.Add(text);
            }
        }

        w.Save(path);
        return new Written(faults, gpaSum, errSum, sptes, pfnSum, prints, first, ts - 1);
    }

    [Fact]
    public void Rows_and_values_read_back_by_duckdb_are_what_the_writer_wrote()
    {
        using var dir = new TempDir();
        string trace = dir.File("h1.dat");
        var written = WriteTrace(trace, faults: 1000, sptes: 700, seed: 3);
        string root = Path.Combine(dir.Path, "ds");
        using (var dataset = new ParquetDataset(root, rowGroupRows: 100))
        using (var reader = TraceFile.OpenReader(trace))
        {
            var summary = dataset.WriteEvents(reader, "h1", "h1.dat");
            dataset.Complete();
            Assert.Null(summary.Error);
        }

        using var duck = new Duck();
        string faults = Duck.Files(root, "event=kvm.kvm_page_fault/host=h1/*.parquet");
        var row = duck.Rows($"SELECT count(*), sum(fault_address::UBIGINT)::UBIGINT, sum(error_code::UBIGINT)::UBIGINT, min(ts), count(DISTINCT comm) FROM read_parquet({faults})")[0];
        Assert.Equal((long)written.Faults, Duck.ToLong(row[0]));
        Assert.Equal(written.GpaSum, Duck.ToULong(row[1]));
        Assert.Equal(written.ErrorSum, Duck.ToULong(row[2]));
        Assert.Equal((long)written.FirstTs, Duck.ToLong(row[3]));
        Assert.Equal(2L, Duck.ToLong(row[4]));

        string sptes = Duck.Files(root, "event=kvmmmu.kvm_mmu_spte_requested/host=h1/*.parquet");
        Assert.Equal((long)written.Sptes, duck.Long($"SELECT count(*) FROM read_parquet({sptes})"));
        Assert.Equal(written.PfnSum, Duck.ToULong(duck.Rows($"SELECT sum(pfn::UBIGINT)::UBIGINT FROM read_parquet({sptes})")[0][0]));

        // Row groups as asked: 1000 faults in groups of 100, alternating between the two writers' files (docs/export.md,
        // "Layout"): part-0 holds groups 0, 2, 4, ... and part-1 groups 1, 3, 5, ..., each file in time order.
        var groups = duck.Rows($"SELECT regexp_extract(file_name, 'part-[0-9]+'), count(*), sum(row_group_num_rows) FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM parquet_metadata({faults})) GROUP BY 1 ORDER BY 1");
        Assert.Equal([("part-0", 5L, 500L), ("part-1", 5L, 500L)], groups.Select(g => ((string)g[0]!, Duck.ToLong(g[1]), Duck.ToLong(g[2]))));
        var firsts = duck.Rows($"SELECT regexp_extract(filename, 'part-[0-9]+') AS part, min(ts) FROM read_parquet({faults}, filename = true) GROUP BY part ORDER BY part");
        Assert.True(Duck.ToLong(firsts[0][1]) < Duck.ToLong(firsts[1][1]), "part-0 starts with the first row group");
        Assert.Equal(0L, duck.Long($"SELECT count(*) FROM (SELECT ts < lag(ts) OVER (PARTITION BY filename ORDER BY file_row_number) AS back FROM read_parquet({faults}, filename = true, file_row_number = true)) WHERE back"));

        string prints = Duck.Files(root, "event=ftrace.print/host=h1/*.parquet");
        var texts = duck.Rows($"SELECT buf FROM read_parquet({prints}) ORDER BY ts").Select(r => ((string)r[0]!).TrimEnd('\n')).ToList();
        Assert.Equal(written.Prints, texts);
    }

    [Fact]
    public void A_two_host_dataset_is_queried_across_hosts()
    {
        using var dir = new TempDir();
        string root = Path.Combine(dir.Path, "fleet");
        var summaries = new Dictionary<string, SnpTraceFixture.Summary>();
        string[] policies = ["fault-hook", "first-use"];
        using (var dataset = new ParquetDataset(root, rowGroupRows: 512))
        {
            foreach (var (host, count) in new[] { ("a1", 600), ("b2", 900) })
            {
                string trace = dir.File(host + ".dat");
                summaries[host] = SnpTraceFixture.Write(trace, count, seed: count);
                using var exporting = dataset.Exporting(TraceFile.OpenReader(trace), host, host + ".dat");
                using var replayer = new Replayer(exporting, new ReplayOptions(0, 1UL << 36, KvmVmType.Snp), policies);
                var decisions = dataset.RecordDecisions(replayer, host, host + ".dat");
                replayer.Run(cancel: TestContext.Current.CancellationToken);
                decisions.WriteRuns(replayer.Results(host));
                Assert.Null(exporting.Finish().Error);
            }

            dataset.Complete();
        }

        using var db = new DatasetQuery(root);
        var perHost = Rows(db, "SELECT host, count(*) FROM events GROUP BY host ORDER BY host");
        Assert.Equal([("a1", summaries["a1"].Records), ("b2", summaries["b2"].Records)], perHost.Select(r => ((string)r[0]!, Duck.ToLong(r[1]))));

        // Every traced fault has one decision per policy, on each host.
        var faults = Rows(db, "SELECT host, count(*) FROM kvm_page_fault GROUP BY host ORDER BY host").ToDictionary(r => (string)r[0]!, r => Duck.ToLong(r[1]));
        var decided = Rows(db, "SELECT host, policy, count(*) FROM decisions GROUP BY host, policy ORDER BY host, policy");
        Assert.Equal(4, decided.Count);
        foreach (var r in decided)
        {
            Assert.Equal(faults[(string)r[0]!], Duck.ToLong(r[2]));
        }

        // The per-fault RMP work adds up to no more than each run's counters (the rest is conversions and launch).
        var work = Rows(db, """
            SELECT d.host, d.policy, d.updates, r.value
            FROM (SELECT host, policy, sum(rmp_updates) AS updates FROM decisions GROUP BY ALL) d
            JOIN (SELECT host, policy, sum(value) AS value FROM runs WHERE counter IN ('rmpupdate_4k', 'rmpupdate_2m', 'rmpupdate_failed') GROUP BY ALL) r
              USING (host, policy)
            """);
        Assert.Equal(4, work.Count);
        Assert.All(work, r => Assert.InRange(Duck.ToLong(r[2]), 1, Duck.ToLong(r[3])));
    }

    [Fact]
    public void Event_counts_equal_trace_cmd_reports_for_v6_and_v7_and_for_its_report_text()
    {
        string traceCmd = Samples.RequireTraceCmd();
        using var dir = new TempDir();
        foreach (int version in new[] { 6, 7 })
        {
            string trace = dir.File($"v{version}.dat");
            WriteTrace(trace, faults: 300, sptes: 250, seed: version, version: version);
            string report = Samples.Run(traceCmd, "report", "-i", trace);
            var expected = CountReport(report);
            Assert.Equal(3, expected.Count);
            string text = dir.File($"v{version}.txt");
            File.WriteAllText(text, report);

            string root = Path.Combine(dir.Path, $"ds{version}");
            using (var dataset = new ParquetDataset(root))
            {
                using (var reader = TraceFile.OpenReader(trace))
                {
                    dataset.WriteEvents(reader, "binary", trace);
                }

                using (var reader = TraceFile.OpenReader(text))
                {
                    dataset.WriteEvents(reader, "text", text);
                }

                dataset.Complete();
            }

            using var duck = new Duck();
            foreach (string host in new[] { "binary", "text" })
            {
                var actual = duck.Rows($"SELECT regexp_extract(event, '[^.]*$'), count(*) FROM read_parquet({Duck.Files(root, $"event=*/host={host}/*.parquet")}, hive_partitioning = true) GROUP BY ALL")
                    .ToDictionary(r => (string)r[0]!, r => Duck.ToLong(r[1]));
                Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
            }

            // Text input decodes the typed KVM fields as the binary format names them.
            Assert.Equal(
                duck.Long($"SELECT sum(fault_address) FROM read_parquet({Duck.Files(root, "event=*.kvm_page_fault/host=binary/*.parquet")})"),
                duck.Long($"SELECT sum(fault_address) FROM read_parquet({Duck.Files(root, "event=*.kvm_page_fault/host=text/*.parquet")})"));
        }
    }

    [Fact]
    public void Perf_data_and_its_perf_script_text_give_the_same_counts()
    {
        string data = Path.Combine(Samples.Dir, "perf", "vm-perf-tracepoints-a.data");
        string script = Path.Combine(Samples.Dir, "perf", "vm-perf-tracepoints-a.script.txt");
        if (!File.Exists(data) || !File.Exists(script))
        {
            Assert.Skip("the perf samples are not in ../shared/samples/perf");
        }

        using var dir = new TempDir();
        string root = dir.File("ds");
        using (var dataset = new ParquetDataset(root))
        {
            using (var reader = TraceFile.OpenReader(data))
            {
                dataset.WriteEvents(reader, "data", "a.data");
            }

            using (var reader = TraceFile.OpenReader(script))
            {
                dataset.WriteEvents(reader, "script", "a.script.txt");
            }

            dataset.Complete();
        }

        // The script's line count (one record a line) is the independent figure.
        long lines = File.ReadLines(script).Count(l => l.Length > 0 && !l.StartsWith('#'));
        using var duck = new Duck();
        Assert.Equal(lines, duck.Long($"SELECT count(*) FROM read_parquet({Duck.Files(root, "event=*/host=data/*.parquet")})"));
        Assert.Equal(lines, duck.Long($"SELECT count(*) FROM read_parquet({Duck.Files(root, "event=*/host=script/*.parquet")})"));
    }

    [Fact]
    public void Name_value_pairs_of_text_records_become_typed_columns_equal_to_the_binary_fields()
    {
        string binary = Path.Combine(Samples.Dir, "tracecmd-dat", "vm-sched-kmem-v6.dat");
        string text = Path.Combine(Samples.Dir, "text-local", "report-default.txt"); // trace-cmd report of that file
        using var dir = new TempDir();
        string root = dir.File("ds");
        using (var dataset = new ParquetDataset(root))
        {
            using (var reader = TraceFile.OpenReader(binary))
            {
                dataset.WriteEvents(reader, "binary", "v6.dat");
            }

            using (var reader = TraceFile.OpenReader(text))
            {
                dataset.WriteEvents(reader, "text", "report.txt");
            }

            dataset.Complete();
        }

        using var duck = new Duck();
        string Sums(string host) => string.Join(",", duck.Rows($"SELECT count(*), sum(pfn), sum(\"order\"), sum(migratetype), count(DISTINCT gfp_flags) FROM read_parquet({Duck.Files(root, $"event=kmem.mm_page_alloc/host={host}/*.parquet")})")[0]);
        Assert.Equal(Sums("binary"), Sums("text"));
        Assert.StartsWith("664,", Sums("text"), StringComparison.Ordinal); // trace-cmd's count for the sample (info's too)
    }

    [Fact]
    public void A_dataset_disposed_without_complete_leaves_readable_files_of_what_was_written()
    {
        using var dir = new TempDir();
        string trace = dir.File("h.dat");
        var written = WriteTrace(trace, faults: 300, sptes: 0, seed: 4);
        string root = dir.File("ds");
        using (var dataset = new ParquetDataset(root, rowGroupRows: 64))
        using (var reader = TraceFile.OpenReader(trace))
        {
            dataset.WriteEvents(reader, "h", "h.dat"); // as an export that fails after this trace: no Complete
        }

        using var duck = new Duck();
        Assert.Equal((long)written.Faults, duck.Long($"SELECT count(*) FROM read_parquet({Duck.Files(root, "event=kvm.kvm_page_fault/host=h/*.parquet")})"));
    }

    [Fact]
    public void A_host_already_in_the_dataset_is_refused()
    {
        using var dir = new TempDir();
        string trace = dir.File("h.dat");
        WriteTrace(trace, 10, 10, 1);
        string root = dir.File("ds");
        using (var dataset = new ParquetDataset(root))
        using (var reader = TraceFile.OpenReader(trace))
        {
            dataset.WriteEvents(reader, "h", "h.dat");
            dataset.Complete();
        }

        using var again = new ParquetDataset(root);
        using var second = TraceFile.OpenReader(trace);
        var ex = Assert.Throws<InvalidOperationException>(() => again.WriteEvents(second, "h", "h.dat"));
        Assert.Contains("already in the dataset", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_partly_filled_memory_budget_flushes_many_event_types()
    {
        // Several formats interleaved, tiny row groups: every table ends with a partial group and all rows arrive.
        using var dir = new TempDir();
        string trace = dir.File("h.dat");
        var written = WriteTrace(trace, faults: 257, sptes: 129, seed: 9);
        string root = dir.File("ds");
        using (var dataset = new ParquetDataset(root, rowGroupRows: 7))
        using (var reader = TraceFile.OpenReader(trace))
        {
            var s = dataset.WriteEvents(reader, "h", "h.dat");
            dataset.Complete();
            Assert.Equal(written.Faults + written.Sptes + written.Prints.Count, s.Records);
        }

        using var duck = new Duck();
        Assert.Equal((long)(written.Faults + written.Sptes + written.Prints.Count), duck.Long($"SELECT count(*) FROM read_parquet({Duck.Files(root, "event=*/host=h/*.parquet")})"));
    }

    private static List<object?[]> Rows(DatasetQuery db, string sql)
    {
        using var reader = db.Query(sql);
        return Duck.ReadAll(reader);
    }

    /// <summary>Records per event name in trace-cmd report's text: the word before the first ': ' after the timestamp.</summary>
    private static Dictionary<string, long> CountReport(string report)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in report.Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"\[\d+\]\s+[\d.]+:\s+([A-Za-z0-9_]+):");
            if (m.Success)
            {
                counts[m.Groups[1].Value] = counts.GetValueOrDefault(m.Groups[1].Value) + 1;
            }
        }

        return counts;
    }
}
