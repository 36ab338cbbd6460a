using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRmp.Cli.Options;
using FastRmp.Interop.Tracing;
using FastRmp.Interop.Tracing.Kvm;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp events FILE [--event NAME]... [--format text|jsonl]</c>: every record, one per line.</summary>
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
        var command = new Command("events", "Print every record (timestamp ns, cpu, pid, comm, system:event, fields by name).")
        {
            file, events, format,
        };
        command.SetAction(parse =>
        {
            Write(parse.GetValue(file)!, parse.GetValue(events) ?? [], parse.GetValue(format) == "jsonl", parse.InvocationConfiguration.Output);
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static void Write(string path, string[] events, bool jsonl, TextWriter output)
    {
        using var reader = TraceCommandHelpers.Open(path);
        var wanted = events.Length == 0 ? null : new HashSet<string>(events, StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var text = new StringBuilder();
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
                    buffer.Write("\n"u8);
                    json.Reset(buffer);
                    if (buffer.WrittenCount > 1 << 15)
                    {
                        output.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
                        buffer.ResetWrittenCount();
                    }
                }
                else
                {
                    WriteText(text, r);
                    if (text.Length > 1 << 15)
                    {
                        output.Write(text);
                        text.Clear();
                    }
                }
            }
        }
        catch (TraceFormatException ex)
        {
            throw new CliInputException(ex.Message);
        }
        finally
        {
            output.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
            output.Write(text);
        }
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

    private static void WriteText(StringBuilder sb, in TraceRecord r)
    {
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"{InfoCommand.Ts(r.Timestamp)} [{r.Cpu:D3}] {r.Comm}-{r.Pid} {r.Format.FullName}:");
        if (r.IsText)
        {
            sb.Append(' ').Append(r.Text);
        }
        else
        {
            foreach (var f in r.Format.EventFields)
            {
                sb.Append(' ').Append(f.Name).Append('=');
                if (f.IsNumber)
                {
                    if (f.IsLongOrPointer || f.Size == 8)
                    {
                        sb.Append(ci, $"0x{r.GetUInt64(f):x}");
                    }
                    else if (f.IsSigned)
                    {
                        sb.Append(r.GetInt64(f));
                    }
                    else
                    {
                        sb.Append(r.GetUInt64(f));
                    }
                }
                else if (f.IsCharString)
                {
                    sb.Append(r.GetString(f).TrimEnd('\n'));
                }
                else
                {
                    sb.Append('[');
                    int n = r.ElementCount(f);
                    for (int i = 0; i < n; i++)
                    {
                        sb.Append(i == 0 ? "" : ",").Append(ci, $"0x{r.GetElement(f, i):x}");
                    }

                    sb.Append(']');
                }
            }
        }

        sb.Append('\n');
    }
}
