using System.CommandLine;
using System.Text;
using System.Text.Json;
using FastRmp.Cli.Options;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Cli.Commands;

/// <summary>
/// <c>fastrmp events FILE [--event NAME]... [--format text|jsonl] [--perfetto FILE.pftrace]</c>: every record, one per
/// line, or with <c>--perfetto</c> every record as a Perfetto track event in that file (and one summary line).
/// </summary>
internal static class EventsCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A trace.dat, tracefs trace text, trace-cmd report, perf script output or perf.data (file or pipe mode); '-' reads standard input; gzip, xz and zstd files are decompressed." };
        var events = new Option<string[]>("--event") { Description = "Only these events (system:name or name); repeatable.", AllowMultipleArgumentsPerToken = false };
        var format = CliOptions.OneOf(
            new Option<string>("--format") { Description = "text or jsonl (one JSON object per record).", DefaultValueFactory = _ => "text" },
            "format",
            "use one of",
            ["text", "jsonl"]);
        var perfetto = PerfettoOutput.Option("Write the records to this Perfetto trace (one instant per record on its thread's track, fields as arguments; docs/perfetto.md) instead of printing them.");
        var command = new Command("events", "Print every record (timestamp ns, cpu, pid, comm, system:event, fields by name), or write them as a Perfetto trace.")
        {
            file, events, format, perfetto,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(perfetto) is { } pftrace)
            {
                if (parse.GetResult(format) is { Implicit: false })
                {
                    throw new CliUsageException("--format chooses the printed form; with --perfetto nothing is printed but a summary.");
                }

                WritePerfetto(parse.GetValue(file)!, parse.GetValue(events) ?? [], pftrace, parse.InvocationConfiguration.Output);
                return ExitCodes.Ok;
            }

            Write(parse.GetValue(file)!, parse.GetValue(events) ?? [], parse.GetValue(format) == "jsonl", parse.InvocationConfiguration.Output);
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static void Write(string path, string[] events, bool jsonl, TextWriter output)
    {
        using var reader = TraceCommandHelpers.Open(path);
        var wanted = events.Length == 0 ? null : new HashSet<string>(events, StringComparer.Ordinal);
        using var sink = Utf8Output.For(output);
        using var json = new Utf8JsonWriter(sink, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var names = new Utf8Names();
        var decoder = new KvmEventDecoder();
        try
        {
            while (reader.MoveNext(out var r))
            {
                if (wanted is not null && !wanted.Contains(r.Format.FullName) && !wanted.Contains(r.Format.Name))
                {
                    continue;
                }

                if (jsonl)
                {
                    WriteJson(json, r, decoder);
                    json.Flush();
                    sink.Write("\n"u8);
                    json.Reset(sink);
                }
                else
                {
                    WriteText(sink, r, names);
                }
            }
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }
    }

    /// <summary>The records (those named by <paramref name="events"/>, or all) as a Perfetto trace; prints one summary line.</summary>
    internal static void WritePerfetto(string path, string[] events, FileInfo file, TextWriter output)
    {
        ReplayCommands.RefuseOutputOverInput(path, (PerfettoOutput.Name, file));
        using var reader = TraceCommandHelpers.Open(path);
        var wanted = events.Length == 0 ? null : new HashSet<string>(events, StringComparer.Ordinal);
        using var trace = PerfettoOutput.Create(file);
        long read = 0;
        try
        {
            while (reader.MoveNext(out var r))
            {
                read++;
                if (wanted is null || wanted.Contains(r.Format.FullName) || wanted.Contains(r.Format.Name))
                {
                    trace.WriteRecord(r);
                }
            }
        }
        catch (TraceFormatException ex)
        {
            trace.Complete();
            throw new CliInputException($"{ex.Message} (the {trace.Records:N0} records before it are in {file})");
        }

        trace.Complete();
        output.WriteLine($"{file}: {trace.Records:N0} of {read:N0} records as Perfetto track events ({trace.Packets:N0} packets, {new FileInfo(file.FullName).Length:N0} bytes)");
    }

    private static void WriteJson(Utf8JsonWriter w, in TraceRecord r, KvmEventDecoder decoder)
    {
        w.WriteStartObject();
        w.WriteNumber("ts"u8, r.Timestamp);
        w.WriteNumber("cpu"u8, r.Cpu);
        w.WriteNumber("pid"u8, r.Pid);
        w.WriteString("comm"u8, r.Comm);
        w.WriteString("event"u8, r.Format.FullName);
        w.WriteStartObject("fields"u8);
        if (r.IsText)
        {
            TextFieldWriter.Write(w, r, decoder);
        }
        else
        {
            foreach (var f in r.Format.EventFields)
            {
                if (f.IsNumber)
                {
                    if (f.IsSigned)
                    {
                        w.WriteNumber(f.Name, r.GetInt64(f));
                    }
                    else
                    {
                        w.WriteNumber(f.Name, r.GetUInt64(f));
                    }
                }
                else if (f.IsCharString)
                {
                    w.WriteString(f.Name, r.GetString(f));
                }
                else
                {
                    w.WriteStartArray(f.Name);
                    int n = r.ElementCount(f);
                    for (int i = 0; i < n; i++)
                    {
                        if (f.IsSigned)
                        {
                            w.WriteNumberValue((long)r.GetElement(f, i));
                        }
                        else
                        {
                            w.WriteNumberValue(r.GetElement(f, i));
                        }
                    }

                    w.WriteEndArray();
                }
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// One record as text: <c>SEC.NSEC [CPU] comm-pid system:event: name=value ...</c>, 64-bit and pointer fields in hex,
    /// other numbers in decimal, strings as they are, arrays as <c>[0x..,0x..]</c>; formatted straight into UTF-8.
    /// </summary>
    private static void WriteText(Utf8Output o, in TraceRecord r, Utf8Names names)
    {
        o.WriteDecimal(r.Timestamp / 1_000_000_000);
        o.Write('.');
        o.WriteDecimal(r.Timestamp % 1_000_000_000, 9);
        o.Write(" ["u8);
        o.WriteDecimal((long)r.Cpu, 3);
        o.Write("] "u8);
        o.Write(names.Of(r.Comm));
        o.Write('-');
        o.WriteDecimal((long)r.Pid);
        o.Write(' ');
        var plan = names.Of(r.Format);
        o.Write(plan.Name);
        if (r.IsText)
        {
            o.Write(' ');
            o.Write(r.Text);
        }
        else
        {
            foreach (var (f, prefix) in plan.Fields)
            {
                o.Write(prefix);
                if (f.IsNumber)
                {
                    if (f.IsLongOrPointer || f.Size == 8)
                    {
                        o.Write("0x"u8);
                        o.WriteHex(r.GetUInt64(f));
                    }
                    else if (f.IsSigned)
                    {
                        o.WriteDecimal(r.GetInt64(f));
                    }
                    else
                    {
                        o.WriteDecimal(r.GetUInt64(f));
                    }
                }
                else if (f.IsCharString)
                {
                    o.Write(r.GetString(f).AsSpan().TrimEnd('\n'));
                }
                else
                {
                    o.Write('[');
                    int n = r.ElementCount(f);
                    for (int i = 0; i < n; i++)
                    {
                        o.Write(i == 0 ? ""u8 : ","u8);
                        o.Write("0x"u8);
                        o.WriteHex(r.GetElement(f, i));
                    }

                    o.Write(']');
                }
            }
        }

        o.Write('\n');
    }

    /// <summary>
    /// The UTF-8 bytes a record's text needs, encoded once: per format its <c>system:event:</c> and each field's
    /// <c> name=</c>, per comm string its bytes (the last one of each kept at hand: records come in runs).
    /// </summary>
    private sealed class Utf8Names
    {
        private readonly Dictionary<EventFormat, FormatPlan> _formats = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, byte[]> _comms = new(ReferenceEqualityComparer.Instance);
        private EventFormat? _lastFormat;
        private FormatPlan? _lastPlan;
        private string? _lastComm;
        private byte[] _lastCommBytes = [];

        public FormatPlan Of(EventFormat format)
        {
            if (ReferenceEquals(format, _lastFormat))
            {
                return _lastPlan!;
            }

            if (!_formats.TryGetValue(format, out var plan))
            {
                plan = new FormatPlan(
                    Encoding.UTF8.GetBytes(format.FullName + ":"),
                    [.. format.EventFields.Select(f => (f, Encoding.UTF8.GetBytes(" " + f.Name + "=")))]);
                _formats.Add(format, plan);
            }

            _lastFormat = format;
            _lastPlan = plan;
            return plan;
        }

        public byte[] Of(string comm)
        {
            if (ReferenceEquals(comm, _lastComm))
            {
                return _lastCommBytes;
            }

            if (!_comms.TryGetValue(comm, out var bytes))
            {
                if (_comms.Count >= 1 << 16)
                {
                    _comms.Clear(); // bounded, whatever a resolver hands out
                }

                bytes = Encoding.UTF8.GetBytes(comm);
                _comms.Add(comm, bytes);
            }

            _lastComm = comm;
            _lastCommBytes = bytes;
            return bytes;
        }
    }

    private sealed record FormatPlan(byte[] Name, (EventField Field, byte[] Prefix)[] Fields);
}
