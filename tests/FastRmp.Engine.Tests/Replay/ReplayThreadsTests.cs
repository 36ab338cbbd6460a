using System.Globalization;
using System.Reflection;
using System.Text;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tests.Tracing;
using FastRmp.Interop.Tracing;
using FastRmp.Tests.Common;

namespace FastRmp.Engine.Tests.Replay;

/// <summary>
/// The replay's reading stage on its own thread (<see cref="Replayer.ReadAhead"/>) and its models spread over threads
/// (<see cref="Replayer.ModelThreads"/>) change when ops are decoded and applied, never what: every result, statistic,
/// disagreement (in order, per model), VM name and error is the one of the replay on one thread; a failing reader's or
/// listener's exception and a cancellation reach the caller, and the threads end.
/// </summary>
public sealed class ReplayThreadsTests : IDisposable
{
    private static readonly string[] s_policies = ["first-use", "fault-hook", "every-get-pfn"];
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrmp-readahead-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Inputs() =>
        Samples.Theory("tracecmd-dat/*.dat", "tracecmd-dat-public/*.dat", "perf/*.data", "text-local/*.txt", "text-public/*.txt");

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_sample_replays_the_same_reading_ahead_and_on_three_model_threads(string relative)
    {
        string path = Samples.Path_(relative);
        string plain;
        try
        {
            plain = Fingerprint(path, readAhead: false);
        }
        catch (TraceFormatException)
        {
            return; // a sample the readers refuse at open has nothing to replay either way
        }

        Assert.Equal(plain, Fingerprint(path, readAhead: true));
        Assert.Equal(plain, Fingerprint(path, readAhead: true, modelThreads: 3));
    }

    [Fact]
    public void A_trace_of_many_batches_and_several_vms_replays_the_same_on_every_mix_of_threads()
    {
        string path = Path.Combine(_dir, "vms.dat");
        SnpTraceFixture.WriteVms(path, vms: 3, faultsEach: 2500);
        string plain = Fingerprint(path, readAhead: false);
        Assert.Contains("vm 7000 ", plain, StringComparison.Ordinal); // the fingerprint sees the VMs and their names
        Assert.Contains("vm 9000 ", plain, StringComparison.Ordinal);
        Assert.Contains(" level ", plain, StringComparison.Ordinal); // and disagreements (2M folios against a 4K host)
        Assert.Equal(plain, Fingerprint(path, readAhead: true));
        Assert.Equal(plain, Fingerprint(path, readAhead: false, modelThreads: 2));
        Assert.Equal(plain, Fingerprint(path, readAhead: true, modelThreads: 3));
        Assert.Equal(plain, Fingerprint(path, readAhead: true, modelThreads: 8)); // more threads than models: one each
    }

    [Fact]
    public void A_listener_that_fails_on_a_model_thread_fails_the_run_with_its_exception()
    {
        string path = Path.Combine(_dir, "t.dat");
        SnpTraceFixture.Write(path, 4000, seed: 3);
        using var reader = TraceFile.OpenReader(path);
        using var replayer = new Replayer(reader, new ReplayOptions(9, 1UL << 36), s_policies) { ReadAhead = true, ModelThreads = 2 };
        replayer.SessionCreated = (_, session) =>
        {
            if (session.Policy == "every-get-pfn")
            {
                session.Fidelity.Listener = d => throw new InvalidOperationException($"listener failed at {d.Timestamp}");
            }
        };
        var ex = Assert.Throws<InvalidOperationException>(() => replayer.Run(cancel: TestContext.Current.CancellationToken));
        Assert.StartsWith("listener failed at ", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => replayer.ModelThreads = 0);
    }

    [Fact]
    public void Damage_ends_both_replays_at_the_same_op_with_the_same_error()
    {
        string path = Path.Combine(_dir, "t.dat");
        SnpTraceFixture.Write(path, 6000, seed: 5, hugeEvery: 9);
        string whole = Fingerprint(path, readAhead: false);
        string plain = Fingerprint(path, readAhead: false, damageAt: 7777);
        Assert.Contains("error t.dat: damage at record 7777", plain, StringComparison.Ordinal);
        Assert.Equal(plain, Fingerprint(path, readAhead: true, damageAt: 7777));
        Assert.Equal(plain, Fingerprint(path, readAhead: true, damageAt: 7777, modelThreads: 2));
        Assert.NotEqual(whole, plain); // the damage cost the records after it
    }

    [Fact]
    public void A_reader_that_fails_mid_trace_fails_the_run_with_its_exception()
    {
        string path = Path.Combine(_dir, "t.dat");
        SnpTraceFixture.Write(path, 4000, seed: 3);
        using var inner = TraceFile.OpenReader(path);
        var failing = new FailingReader(inner, failAt: 5000);
        using var replayer = new Replayer(failing, new ReplayOptions(9, 1UL << 36), s_policies) { ReadAhead = true, ModelThreads = 2 };
        var ex = Assert.Throws<IOException>(() => replayer.Run(cancel: TestContext.Current.CancellationToken));
        Assert.Equal("disk gone at record 5000", ex.Message);
        Assert.Equal(5000, failing.Calls);
        Assert.True(replayer.Records <= 5000, $"{replayer.Records} records published");
    }

    [Fact]
    public void Cancelling_stops_the_reading_thread_before_run_returns()
    {
        string path = Path.Combine(_dir, "t.dat");
        SnpTraceFixture.Write(path, 40_000, seed: 4);
        using var inner = TraceFile.OpenReader(path);
        var counting = new FailingReader(inner, failAt: long.MaxValue);
        using var cancel = new CancellationTokenSource();
        using var replayer = new Replayer(counting, new ReplayOptions(9, 1UL << 36), s_policies) { ReadAhead = true, ModelThreads = 3 };
        Assert.Throws<OperationCanceledException>(() => replayer.Run(_ => cancel.Cancel(), cancel.Token));
        long calls = counting.Calls;
        Thread.Sleep(50);
        Assert.Equal(calls, counting.Calls); // nothing reads after Run returned
        Assert.True(calls < 80_000, $"{calls} records read: the reading thread should stop within a few batches of the cancellation");
        Assert.Throws<OperationCanceledException>(() => replayer.Run(_ => cancel.Cancel(), cancel.Token)); // a second run starts and stops cleanly too
    }

    /// <summary>Everything a replay tells, as text: results per VM and policy, fidelity, disagreements in order, statistics, names, the error.</summary>
    private static string Fingerprint(string path, bool readAhead, long damageAt = long.MaxValue, int modelThreads = 1)
    {
        var sb = new StringBuilder();
        using var inner = TraceFile.OpenReader(path);
        var reader = new FailingReader(inner, damageAt, n => new TraceFormatException($"{Path.GetFileName(path)}: damage at record {n}"));
        using var replayer = new Replayer(reader, new ReplayOptions(9, 1UL << 36, MaxDisagreements: 50), s_policies) { ReadAhead = readAhead, ModelThreads = modelThreads };
        var heard = new List<StringBuilder>(); // per model: its listener is called on its model's thread
        replayer.SessionCreated = (vm, session) =>
        {
            var log = new StringBuilder().Append(CultureInfo.InvariantCulture, $"created vm {vm.Process} '{vm.Name}' {session.Policy}\n");
            heard.Add(log);
            session.Fidelity.Listener = d => log.Append(CultureInfo.InvariantCulture, $"  {session.Policy} {d}\n");
        };
        replayer.Run(cancel: TestContext.Current.CancellationToken);
        heard.ForEach(log => sb.Append(log));
        foreach (var r in replayer.Results("t"))
        {
            sb.Append(CultureInfo.InvariantCulture, $"vm {r.Vm.Process} '{r.Vm.Name}' {r.Policy} {r.Source} {r.FirstRefusal} {r.InvariantViolation}\n");
            foreach (var c in r.Counters.Counters.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {c.Key}={c.Value}\n");
            }

            AppendProperties(sb, r.Fidelity);
        }

        AppendProperties(sb, replayer.Ops.Stats);
        sb.Append(CultureInfo.InvariantCulture, $"records {replayer.Records} bytes {replayer.BytesRead} error {replayer.Error?.Message}\n");
        return sb.ToString();
    }

    private static void AppendProperties(StringBuilder sb, object o)
    {
        foreach (var p in o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (p.PropertyType.IsPrimitive || p.PropertyType == typeof(string))
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {p.Name}={p.GetValue(o)}\n");
            }
        }
    }

    /// <summary>Passes records on, counting them, and throws at record <c>failAt</c> (an <see cref="IOException"/> unless told).</summary>
    private sealed class FailingReader(ITraceReader inner, long failAt, Func<long, Exception>? failure = null) : ITraceReader
    {
        private long _calls;

        public long Calls => Interlocked.Read(ref _calls);

        public TraceSourceInfo Info => inner.Info;

        public TraceReadStats Stats => inner.Stats;

        public TraceFormats Formats => inner.Formats;

        public bool MoveNext(out TraceRecord record)
        {
            if (Interlocked.Increment(ref _calls) >= failAt)
            {
                throw failure?.Invoke(failAt) ?? new IOException($"disk gone at record {failAt}");
            }

            return inner.MoveNext(out record);
        }

        public void Dispose()
        {
        }
    }
}
