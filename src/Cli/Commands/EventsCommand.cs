using System.CommandLine;
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
        var threads = CliOptions.Threads();
        var perfetto = PerfettoOutput.Option("Write the records to this Perfetto trace (one instant per record on its thread's track, fields as arguments; docs/perfetto.md) instead of printing them.");
        var command = new Command("events", "Print every record (timestamp ns, cpu, pid, comm, system:event, fields by name), or write them as a Perfetto trace.")
        {
            file, events, format, threads, perfetto,
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

            Write(parse.GetValue(file)!, parse.GetValue(events) ?? [], parse.GetValue(format) == "jsonl", parse.InvocationConfiguration.Output, parse.GetValue(threads));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static void Write(string path, string[] events, bool jsonl, TextWriter output, int threads = 0)
    {
        using var reader = TraceCommandHelpers.Open(path);
        var wanted = events.Length == 0 ? null : new HashSet<string>(events, StringComparer.Ordinal);
        using var sink = Utf8Output.For(output);
        try
        {
            EventText.Write(reader, wanted, sink, threads == 0 ? Environment.ProcessorCount : threads, jsonl);
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

    /// <summary>The JSON writer options of the jsonl form: no validation (the writer is reset per record), characters as they are.</summary>
    internal static JsonWriterOptions JsonOptions { get; } = new() { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One record as a JSON object: ts, cpu, pid, comm, event and its fields by name.</summary>
    internal static void WriteJson(Utf8JsonWriter w, in TraceRecord r, KvmEventDecoder decoder)
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
}
