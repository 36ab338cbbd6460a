using System.Text;
using FastRmp.Cli;
using FastRmp.Engine.Replay;
using FastRmp.Interop.Tracing;

namespace FastRmp.Fuzz;

/// <summary>
/// The fuzz targets, one per reader and one for the replay (docs/fuzzing.md). Each returns the records it read so
/// <see cref="FuzzCheck"/> can hold the count to a bound derived from the input.
/// </summary>
public static class Targets
{
    /// <summary>Host memory of the replay target's models: small, so a fresh model per input is cheap, and 1 GiB folios fit.</summary>
    public const ulong ReplayHostBytes = 1UL << 30;

    /// <summary>
    /// Host memory of the <c>replayops</c> target's models. Every launch update and conversion there may cover up to
    /// the host's memory page by page, so a small host keeps an input's cost, and the fuzzer's rate, set by its values
    /// rather than by page counts. 1 GiB folios never fit: that target sees the allocator refuse them, the
    /// <c>replay</c> target fits them.
    /// </summary>
    public const ulong ReplayOpsHostBytes = 64UL << 20;

    /// <summary>
    /// True under libFuzzer or AFL (set by <see cref="Program"/>): the targets then stay on one thread. The bounded
    /// run and <c>run</c> leave it false, so they also run the replay's threads.
    /// </summary>
    public static bool CoverageGuided { get; set; }

    /// <summary>Every target, by name.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("tracedat", ReadTraceDat, IsTraceFormat, DatBound, Seeds.TraceDat),
        new("tracefs", ReadText, IsTraceFormat, LineBound, Seeds.Tracefs),
        new("report", ReadText, IsTraceFormat, LineBound, Seeds.Report),
        new("perfscript", ReadText, IsTraceFormat, LineBound, Seeds.PerfScript),
        new("perfdata", ReadPerfData, IsTraceFormat, data => 2 * ((data.Length / 8) + 1), Seeds.PerfData),
        new("compressed", ReadStream, IsTraceFormat, _ => StreamRecordBound, Seeds.Compressed),
        new("formatfile", ReadFormatFile, IsTraceFormat, _ => 1, Seeds.FormatFile),
        new("memslot", ReadMemslots, ex => ex is CliInputException, MemslotBound, Seeds.Memslot),
        new("replay", Replay, IsTraceFormat, ReplayBound, Seeds.Replay),
        new("replayops", ReplayOpsRun, IsTraceFormat, data => data.Length + 1, _ => ReplayOps.Seeds()),
    ];

    /// <summary>
    /// Records a piped compressed trace may yield. Its decompressed size is not known from the input, so the count is
    /// held by the time and memory checks; this only catches a reader that loops on its own output.
    /// </summary>
    public const long StreamRecordBound = 1L << 24;

    /// <summary>The target called <paramref name="name"/>.</summary>
    public static FuzzTarget Get(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no fuzz target '{name}'; the targets are {string.Join(", ", All.Select(t => t.Name))}");

    private static bool IsTraceFormat(Exception ex) => ex is TraceFormatException;

    private static long ReadTraceDat(ReadOnlyMemory<byte> data)
    {
        using var file = TraceDatFile.Open(TraceInput.FromMemory(data, "fuzz.dat"), ownsInput: true);
        long records = 0;
        foreach (var buffer in file.Buffers)
        {
            using var reader = file.CreateReader(buffer.Name);
            records += FuzzDrain.Drain(reader);
        }

        // Every instance reads its own CPU streams; with hostile offsets they may overlap, so the bound is per
        // stream. An uncompressed record takes at least 8 bytes of the file; compressed pages are held by the
        // memory check instead.
        return records;
    }

    private static long DatBound(ReadOnlyMemory<byte> data)
    {
        // A record is at least 8 bytes (a 4-byte header and one word) of decompressed page data, every CPU stream of
        // every instance may point at the same bytes (up to 256 CPUs x 8 instances within the time budget), and
        // compression stretches an input by at most what the memory check allows (100x).
        return ((data.Length / 8) + 1) * 100L * 256 * 8;
    }

    private static long ReadText(ReadOnlyMemory<byte> data)
    {
        long records;
        TraceFileKind kind;
        using (var reader = TraceFile.OpenText(data, "fuzz.txt"))
        {
            kind = reader.Info.Kind;
            records = FuzzDrain.Drain(reader);
        }

        CheckPrefix(data, kind);
        return records;
    }

    /// <summary>
    /// Nothing already read is lost, and damage later in a file does not change what came before it: the input cut
    /// after its middle line, read as the same kind of text, yields exactly the first records of the whole input.
    /// </summary>
    private static void CheckPrefix(ReadOnlyMemory<byte> data, TraceFileKind kind)
    {
        int cut = data.Span[..(data.Length / 2)].LastIndexOf((byte)'\n');
        if (cut <= 0)
        {
            return;
        }

        var prefix = data[..(cut + 1)];
        var first = new List<(ulong, int, int, string)>();
        try
        {
            using var reader = TraceFile.OpenText(prefix, "fuzz.txt");
            if (reader.Info.Kind != kind)
            {
                return; // the head alone reads as another kind of text: nothing to compare
            }

            while (reader.MoveNext(out var r))
            {
                first.Add((r.Timestamp, r.Cpu, r.Pid, r.Format.Name));
            }
        }
        catch (TraceFormatException)
        {
            return; // the head alone is refused (too little to tell the kind): nothing to compare
        }

        using var whole = TraceFile.OpenText(data, "fuzz.txt");
        for (int i = 0; i < first.Count; i++)
        {
            if (!whole.MoveNext(out var r))
            {
                throw new FuzzInvariantException($"the first {cut + 1} bytes give {first.Count} records, the whole input only {i}");
            }

            if ((r.Timestamp, r.Cpu, r.Pid, r.Format.Name) != first[i])
            {
                throw new FuzzInvariantException($"record {i} differs between the whole input and its first {cut + 1} bytes: {(r.Timestamp, r.Cpu, r.Pid, r.Format.Name)} vs {first[i]}");
            }
        }
    }

    private static long LineBound(ReadOnlyMemory<byte> data) => data.Span.Count((byte)'\n') + 1;

    private static long ReadPerfData(ReadOnlyMemory<byte> data)
    {
        // As a file and as a pipe (perf record -o -); refused only when both refuse. A record takes at least its
        // 8-byte header in each.
        long records = 0;
        TraceFormatException? fileRefusal;
        try
        {
            using var file = FastRmp.Interop.Tracing.Perf.PerfDataFile.Open(TraceInput.FromMemory(data, "fuzz.data"));
            using var reader = file.CreateReader();
            records += FuzzDrain.Drain(reader);
            fileRefusal = null;
        }
        catch (TraceFormatException ex)
        {
            CheckRefusal(ex);
            fileRefusal = ex;
        }

        try
        {
            using var pipe = FastRmp.Interop.Tracing.Perf.PerfDataFile.OpenPipe(new MemoryStream(data.ToArray(), writable: false), "fuzz-pipe");
            using var piped = pipe.CreateReader();
            records += FuzzDrain.Drain(piped);
        }
        catch (TraceFormatException ex) when (fileRefusal is null)
        {
            CheckRefusal(ex);
        }

        return records;
    }

    /// <summary>The file-mode refusal of <see cref="ReadPerfData"/> is checked as <see cref="FuzzCheck"/> checks the one that escapes.</summary>
    private static void CheckRefusal(TraceFormatException ex)
    {
        if (ex.Message.Contains('\n', StringComparison.Ordinal) || !ex.Message.Contains("fuzz", StringComparison.Ordinal))
        {
            throw new FuzzInvariantException($"the refusal is not one line naming the input: '{ex.Message}'", ex);
        }
    }

    private static long ReadStream(ReadOnlyMemory<byte> data)
    {
        using var reader = TraceFile.OpenReader(new MemoryStream(data.ToArray(), writable: false), "fuzz-pipe");
        return FuzzDrain.Drain(reader);
    }

    private static long ReadFormatFile(ReadOnlyMemory<byte> data)
    {
        var format = FormatFileParser.Parse("fuzz", Encoding.UTF8.GetString(data.Span));
        _ = format.Find("common_pid");
        return 1;
    }

    private static long ReadMemslots(ReadOnlyMemory<byte> data)
    {
        var slots = MemslotFile.Parse(Encoding.UTF8.GetString(data.Span), "fuzz.json");
        return slots.Count;
    }

    // A slot per JSON object, or per line of a QEMU log (lines as EnumerateLines splits them: CR, LF, FF, NEL, LS, PS).
    private static long MemslotBound(ReadOnlyMemory<byte> data)
    {
        long lines = 0;
        foreach (var line in Encoding.UTF8.GetString(data.Span).AsSpan().EnumerateLines())
        {
            lines++;
        }

        return data.Span.Count((byte)'{') + lines;
    }

    private static long ReplayOpsRun(ReadOnlyMemory<byte> data)
    {
        byte[] text = Encoding.UTF8.GetBytes(ReplayOps.ToText(data.Span, out _));
        using var reader = TraceFile.OpenText(text, "fuzz-ops.txt");
        // one policy per input (each in turn by the input's length): the model's work, not the decoding, is this target's cost
        using var replayer = new Replayer(reader, ReplayOptionsFor(data.Length, ReplayOpsHostBytes), ReplayPolicies(data.Length)[..1]);
        replayer.Run();
        _ = replayer.Results("fuzz");
        return replayer.Records;
    }

    private static long Replay(ReadOnlyMemory<byte> data)
    {
        TraceDatFile? file = null;
        ITraceReader reader;
        if (TraceDatFile.HasMagic(data.Span))
        {
            file = TraceDatFile.Open(TraceInput.FromMemory(data, "fuzz.dat"), ownsInput: true);
            reader = file.CreateReader();
        }
        else
        {
            reader = TraceFile.OpenText(data, "fuzz.txt");
        }

        try
        {
            // Stretches of input lengths read on a second thread and run the two models on two threads (the CLI's
            // default on two cores or more), except under a coverage-guided fuzzer: threads make the coverage of an
            // input depend on timing, which the fuzzer takes for new behaviour.
            bool threads = !CoverageGuided;
            using var replayer = new Replayer(reader, ReplayOptionsFor(data.Length, ReplayHostBytes), ReplayPolicies(data.Length))
            {
                ReadAhead = threads && (data.Length / 97 & 1) == 1,
                ModelThreads = threads ? (data.Length / 197 & 1) + 1 : 1,
            };
            replayer.Run();
            var results = replayer.Results("fuzz");
            foreach (var result in results)
            {
                foreach (var counter in result.Counters.Counters)
                {
                    // fragmentation_index_* is -1000 when an allocation of that order would succeed (the kernel's convention)
                    if (counter.Value < 0 && !counter.Key.StartsWith("fragmentation_index", StringComparison.Ordinal))
                    {
                        throw new FuzzInvariantException($"replay counter {counter.Key} is negative ({counter.Value})");
                    }
                }
            }

            return replayer.Records;
        }
        finally
        {
            reader.Dispose();
            file?.Dispose();
        }
    }

    /// <summary>
    /// The model's options, chosen by the input's length so that mutations move through them: folio order 0, 9 and
    /// 18 and the host's own sizes (<c>--folio auto</c>), SNP and SW_PROTECTED, RMPOPT, and every modelled kernel.
    /// </summary>
    private static ReplayOptions ReplayOptionsFor(int length, ulong hostBytes)
    {
        var kernels = FastRmp.Engine.Kvm.KvmKernel.All;
        var options = new ReplayOptions(HostBytes: hostBytes, MaxDisagreements: 4, Kernel: kernels[length % kernels.Length]);
        return ((length / kernels.Length) % 6) switch
        {
            1 => options with { FolioOrder = 9 },
            2 => options with { FolioOrder = 18 },
            3 => options with { FolioAuto = true },
            4 => options with { VmType = FastRmp.Interop.Uapi.KvmVmType.SwProtected },
            5 => options with { RmpOpt = true },
            _ => options,
        };
    }

    /// <summary>Two policies per input, every pair in turn (by the input's length).</summary>
    private static string[] ReplayPolicies(int length)
    {
        var names = FastRmp.Engine.Policies.PolicyCatalog.AllNames;
        int first = (length / 7) % names.Length;
        return [names[first], names[(first + 1) % names.Length]];
    }

    private static long ReplayBound(ReadOnlyMemory<byte> data) => TraceDatFile.HasMagic(data.Span) ? DatBound(data) : LineBound(data);
}
