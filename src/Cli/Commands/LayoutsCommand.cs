using System.Collections.Immutable;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRmp.Interop.Layout;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp layouts [--kernel VERSION] [--gmem default|present|absent] [--json]</c>.</summary>
internal static class LayoutsCommand
{
    public static Command Create()
    {
        var kernel = new Option<string?>("--kernel")
        {
            Description = $"Kernel version (e.g. 6.12.3 or 6.8.0-49-generic); only that kernel's layouts. Known: {KernelLayouts.Oldest} to 7.0. Default: every mirror of every generation.",
        };
        var gmem = new Option<GmemBlock>("--gmem")
        {
            Description = "Whether kvm_memory_slot has the gmem block (CONFIG_KVM_PRIVATE_MEM). Default: what a distribution kernel of that version has.",
            DefaultValueFactory = _ => GmemBlock.Default,
        };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of tables." };
        var command = new Command("layouts", "Print the size and field table of every mirrored kernel, uAPI and hardware struct.")
        {
            kernel, gmem, json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var (label, layouts) = Select(parse.GetValue(kernel), parse.GetValue(gmem));
            if (parse.GetValue(json))
            {
                WriteJson(output, label, layouts);
            }
            else
            {
                WriteText(output, label, layouts);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    internal static (string Label, ImmutableArray<MirrorLayout> Layouts) Select(string? kernel, GmemBlock gmem)
    {
        if (kernel is null)
        {
            return ("all", KernelLayouts.All);
        }

        if (!KernelVersion.TryParse(kernel, out var version))
        {
            throw new CliInputException($"--kernel: '{kernel}' is not a kernel version (expected MAJOR.MINOR[.PATCH], e.g. 6.12.3).");
        }

        if (!KernelLayouts.IsKnown(version))
        {
            throw new CliInputException($"--kernel: FastRmp knows the layouts of kernels {KernelLayouts.Oldest} to 7.0; {version} is outside that range.");
        }

        try
        {
            return (kernel.Trim(), KernelLayouts.For(version, gmem));
        }
        catch (ArgumentException ex)
        {
            throw new CliInputException($"--gmem: {ex.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static void WriteText(TextWriter output, string label, ImmutableArray<MirrorLayout> layouts)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Layouts for kernel: {label} (x86-64)\n");
        foreach (var layout in layouts)
        {
            sb.Append('\n');
            string generation = layout.Name == layout.CName ? "" : $" [{layout.Name}]";
            sb.Append(CultureInfo.InvariantCulture, $"struct {layout.CName}{generation}: {layout.Size} bytes, align {layout.Alignment} -- {layout.Summary}\n");
            sb.Append("  offset  size  field                              type\n");
            foreach (var f in layout.Fields)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {f.Offset,6}  {f.Size,4}  {f.Name,-33}  {f.CType}\n");
            }

            foreach (var b in layout.Bitfields)
            {
                string bits = b.BitWidth == 1 ? $"bit {b.BitOffset}" : $"bits {b.BitOffset}..{b.BitOffset + b.BitWidth - 1}";
                sb.Append(CultureInfo.InvariantCulture, $"  {b.BitOffset / 8,6}  {"",4}  {b.Name,-33}  :{b.BitWidth} ({bits})\n");
            }
        }

        output.Write(sb.ToString());
    }

    private static void WriteJson(TextWriter output, string label, ImmutableArray<MirrorLayout> layouts)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("kernel", label);
            w.WriteStartArray("structs");
            foreach (var layout in layouts)
            {
                w.WriteStartObject();
                w.WriteString("name", layout.CName);
                w.WriteString("mirror", layout.Name);
                w.WriteNumber("size", layout.Size);
                w.WriteNumber("align", layout.Alignment);
                w.WriteString("source", layout.Summary);
                w.WriteStartArray("fields");
                foreach (var f in layout.Fields)
                {
                    w.WriteStartObject();
                    w.WriteString("name", f.Name);
                    w.WriteNumber("offset", f.Offset);
                    w.WriteNumber("size", f.Size);
                    w.WriteString("type", f.CType);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("bitfields");
                foreach (var b in layout.Bitfields)
                {
                    w.WriteStartObject();
                    w.WriteString("name", b.Name);
                    w.WriteNumber("bit_offset", b.BitOffset);
                    w.WriteNumber("bit_width", b.BitWidth);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
