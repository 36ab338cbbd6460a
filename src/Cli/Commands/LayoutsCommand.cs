using System.Collections.Immutable;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRmp.Cli.Options;
using FastRmp.Cli.Reports;
using FastRmp.Interop.Layout;

namespace FastRmp.Cli.Commands;

/// <summary><c>fastrmp layouts [--kernel VERSION] [--gmem default|present|absent] [--json]</c>.</summary>
internal static class LayoutsCommand
{
    private static readonly string[] s_gmemNames = ["default", "present", "absent"];

    public static Command Create()
    {
        var kernel = new Option<string?>("--kernel")
        {
            Description = $"Kernel version (e.g. 6.12.3 or 6.8.0-49-generic); only that kernel's layouts. Known: {KernelLayouts.Oldest} to 7.0. Default: every mirror of every generation.",
        };
        kernel.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (!KernelVersion.TryParse(token.Value, out var version))
                {
                    result.AddError($"--kernel: '{token.Value}' is not a kernel version (expected MAJOR.MINOR[.PATCH], e.g. 6.12.3; known: {KernelLayouts.Oldest} to 7.0).");
                }
                else if (!KernelLayouts.IsKnown(version))
                {
                    result.AddError($"--kernel: FastRmp knows the layouts of kernels {KernelLayouts.Oldest} to 7.0; {version} is outside that range.");
                }
            }
        });
        var gmem = CliOptions.OneOf(
            new Option<string>("--gmem")
            {
                Description = "Whether kvm_memory_slot has the gmem block (CONFIG_KVM_PRIVATE_MEM); default: what a distribution kernel of that version has.",
                DefaultValueFactory = _ => "default",
            },
            "gmem block setting",
            "use one of",
            s_gmemNames);
        var json = new Option<bool>("--json") { Description = "Write JSON instead of tables." };
        var command = new Command("layouts", "Print the size and field table of every mirrored kernel, uAPI and hardware struct.")
        {
            kernel, gmem, json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var (label, layouts) = Select(parse.GetValue(kernel), parse.GetValue(gmem) switch { "present" => GmemBlock.Present, "absent" => GmemBlock.Absent, _ => GmemBlock.Default });
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

        // The option's validator has checked the version; a bad one here is a caller's mistake.
        var version = KernelVersion.Parse(kernel);
        try
        {
            return (kernel.Trim(), KernelLayouts.For(version, gmem));
        }
        catch (ArgumentException) when (gmem == GmemBlock.Absent)
        {
            // KernelLayouts refuses 'absent' where the kernel cannot be built without the block (6.18 on).
            throw new CliUsageException($"--gmem absent: kernel {version} always has the gmem block (CONFIG_KVM_GUEST_MEMFD is selected on x86-64); use --gmem default or present.");
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
        var structs = layouts.Select(l => new LayoutStructJson(
            l.CName,
            l.Name,
            l.Size,
            l.Alignment,
            l.Summary,
            [.. l.Fields.Select(f => new LayoutFieldJson(f.Name, f.Offset, f.Size, f.CType))],
            [.. l.Bitfields.Select(b => new LayoutBitfieldJson(b.Name, b.BitOffset, b.BitWidth))]));
        output.WriteLine(JsonSerializer.Serialize(new LayoutsJson(label, [.. structs]), ReportJsonContext.Default.LayoutsJson));
    }
}
