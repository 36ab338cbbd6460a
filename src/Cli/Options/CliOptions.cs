using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using FastRmp.Engine.Gmem;
using FastRmp.Engine.Kvm;
using FastRmp.Engine.Policies;
using FastRmp.Interop.Uapi;

namespace FastRmp.Cli.Options;

/// <summary>
/// The typed options several commands share. Each checks its value while the command line is parsed, so a bad value
/// is a usage error (exit 2) whose one-line message names the allowed values, before anything runs; <c>--help</c>
/// shows the allowed values and shell completion offers them.
/// </summary>
/// <remarks>
/// Messages are written here rather than taken from <see cref="ArgumentValidation.AcceptOnlyFromAmong{T}(Argument{T}, string[])"/>,
/// whose message spans one line per value; the allowed values still reach help (<see cref="Option.HelpName"/>) and
/// completion (<see cref="Option.CompletionSources"/>) as they would with it.
/// </remarks>
internal static class CliOptions
{
    /// <summary>The folio sizes, smallest first, as the command line spells them.</summary>
    public static IReadOnlyList<string> FolioNames { get; } = [.. FolioSize.All.Select(f => f.ToString())];

    /// <summary>The VM types, as the command line spells them.</summary>
    public static IReadOnlyList<string> VmTypeNames { get; } = ["snp", "sw-protected", "tdx"];

    /// <summary><c>--policy P</c>: one of <see cref="PolicyCatalog.AllNames"/>, default <c>first-use</c>.</summary>
    public static Option<string> Policy(bool tdx = false)
    {
        var option = new Option<string>("--policy")
        {
            Description = tdx
                ? "The policy (docs/policies.md); with --vm-type tdx, the TDX design: tdx (as merged, the default there) or tdx-2m (the huge-page series; docs/tdx.md)."
                : "The policy (docs/policies.md).",
            DefaultValueFactory = _ => "first-use",
        };
        return OneOf(option, "policy", "the policies are", tdx ? [.. PolicyCatalog.AllNames, .. Engine.Tdx.TdxDesigns.Names] : PolicyCatalog.AllNames);
    }

    /// <summary><c>--kernel K</c>: whose KVM the model follows, one of <see cref="KvmKernel.All"/>'s names, default 6.18.</summary>
    public static Option<string> ModelKernel()
    {
        var option = new Option<string>("--kernel")
        {
            Description = "Which kernel's KVM the model follows where releases differ (docs/policies.md, 'Kernels'): "
                + string.Join(", ", KvmKernel.All.Select(k => $"{k.Name} ({k.Releases})")) + ".",
            DefaultValueFactory = _ => KvmKernel.Default.Name,
        };
        return OneOf(option, "kernel", "the kernels are", [.. KvmKernel.All.Select(k => k.Name)]);
    }

    /// <summary><c>--threads N</c>: how many threads read, format or replay a trace (0, the default: one per processor).</summary>
    public static Option<int> Threads()
    {
        var option = new Option<int>("--threads")
        {
            Description = "Threads that read, format or replay the trace (default 0: one per processor; 1: all on one thread). The output does not depend on it.",
            DefaultValueFactory = _ => 0,
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 1024)
            {
                r.AddError("--threads: give 0 (one per processor) or 1 to 1024");
            }
        });
        return option;
    }

    /// <summary><c>--rmpopt</c>: give the modelled host RMPOPT (<see cref="Engine.Hosting.HostOptions.RmpOpt"/>, docs/rmpopt.md).</summary>
    public static Option<bool> RmpOpt() => new("--rmpopt")
    {
        Description = "Give the modelled host RMPOPT (AMD, RMPOPT series 2026): 1 GiB regions without guest pages skip the RMP check of host writes; adds the rmpopt_* counters (docs/rmpopt.md).",
    };

    /// <summary><c>--policies a,b,...</c>: policies of <see cref="PolicyCatalog.AllNames"/>, each once, comma-separated or repeated; empty (all of them) when not given.</summary>
    public static Option<string[]> Policies()
    {
        var option = new Option<string[]>("--policies")
        {
            Description = $"The policies to compare side by side, comma-separated or repeated (docs/policies.md). Default: {string.Join(',', PolicyCatalog.Names)}.",
            HelpName = string.Join(',', PolicyCatalog.Names),
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                var names = result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
                foreach (string name in names)
                {
                    if (!PolicyCatalog.AllNames.Contains(name) && !Engine.Tdx.TdxDesigns.Names.Contains(name))
                    {
                        result.AddError($"--policies: unknown policy '{name}'; the policies are {string.Join(", ", PolicyCatalog.AllNames)} (with --vm-type tdx: {string.Join(", ", Engine.Tdx.TdxDesigns.Names)}).");
                        return [];
                    }
                }

                if (names.Length == 0)
                {
                    result.AddError($"--policies: name at least one policy of {string.Join(", ", PolicyCatalog.AllNames)}.");
                }
                else if (names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } twice)
                {
                    result.AddError($"--policies: '{twice.Key}' is named twice; name each policy once (the policies are {string.Join(", ", PolicyCatalog.AllNames)}).");
                }

                return names;
            },
        };
        option.CompletionSources.Add([.. PolicyCatalog.AllNames]);
        return option;
    }

    /// <summary><c>--kernels K,K</c>: the kernels to compare side by side (compare), each of <see cref="KvmKernel.All"/>'s names once.</summary>
    public static Option<KvmKernel[]> Kernels()
    {
        var option = new Option<KvmKernel[]>("--kernels")
        {
            Description = "Compare these kernels side by side, comma-separated or repeated (each policy runs under each kernel; default: the --kernel one): "
                + string.Join(", ", KvmKernel.All.Select(k => k.Name)) + ".",
            HelpName = "KERNEL,KERNEL",
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                var names = result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
                var kernels = new List<KvmKernel>();
                foreach (string name in names)
                {
                    if (!KvmKernel.TryParse(name, out var kernel))
                    {
                        result.AddError($"--kernels: unknown kernel '{name}'; the kernels are {string.Join(", ", KvmKernel.All.Select(k => k.Name))}.");
                        return [];
                    }

                    if (kernels.Contains(kernel))
                    {
                        result.AddError($"--kernels: '{name}' is named twice; name each kernel once.");
                        return [];
                    }

                    kernels.Add(kernel);
                }

                if (kernels.Count == 0)
                {
                    result.AddError("--kernels: name at least one kernel.");
                }

                return [.. kernels];
            },
        };
        option.CompletionSources.Add([.. KvmKernel.All.Select(k => k.Name)]);
        return option;
    }

    /// <summary>
    /// The replay's <c>--folio auto|4k|2m|1g</c>, default auto: null for auto (a 2M folio where the trace shows a private
    /// 2M leaf, <c>--folio-fallback</c> elsewhere), else the one size of every folio.
    /// </summary>
    /// <remarks>
    /// A string option, read by <see cref="ReplayFolioSize"/>: a custom parser that returns null for auto made
    /// System.CommandLine convert the token itself and throw on an explicit <c>--folio auto</c>.
    /// </remarks>
    public static Option<string> ReplayFolio()
    {
        var option = new Option<string>("--folio")
        {
            Description = "guest_memfd folio size of the model: auto (the default: a 2M folio wherever the trace shows a private 2M leaf, "
                + "--folio-fallback elsewhere; docs/replay.md), or one size for every folio: 4k (upstream), 2m (THP series) or 1g (HugeTLB series).",
            HelpName = "auto|" + string.Join('|', FolioNames),
            DefaultValueFactory = _ => "auto",
        };
        option.Validators.Add(result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "auto";
            if (text != "auto" && IndexOf(FolioNames, text) < 0)
            {
                result.AddError($"--folio: '{text}' is not a folio size; use auto, 4k, 2m or 1g.");
            }
        });
        option.CompletionSources.Add(["auto", .. FolioNames]);
        return option;
    }

    /// <summary>The size a valid <c>--folio</c> value of <see cref="ReplayFolio"/> names, or null for auto.</summary>
    public static FolioSize? ReplayFolioSize(string? text) => text is null or "auto" ? null : new FolioSize(IndexOf(FolioNames, text) * 9);

    /// <summary><c>--folio 4k|2m|1g</c>; default 4k, or no default (null) when <paramref name="optional"/>.</summary>
    public static Option<FolioSize?> Folio(string description, bool optional = false, string name = "--folio")
    {
        var option = new Option<FolioSize?>(name)
        {
            Description = description + " 4k (upstream), 2m (THP series) or 1g (HugeTLB series).",
            HelpName = string.Join('|', FolioNames),
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                int index = IndexOf(FolioNames, text);
                if (index < 0)
                {
                    result.AddError($"{name}: '{text}' is not a folio size; use 4k, 2m or 1g.");
                    return null;
                }

                return new FolioSize(index * 9);
            },
        };
        if (!optional)
        {
            option.DefaultValueFactory = _ => FolioSize.Size4K;
        }

        option.CompletionSources.Add([.. FolioNames]);
        return option;
    }

    /// <summary><c>--vm-type snp|sw-protected[|tdx]</c>; default snp. <paramref name="tdx"/>: TDX is one of the choices.</summary>
    public static Option<VmTypeName> VmType(bool tdx = false)
    {
        int count = tdx ? 3 : 2;
        var option = new Option<VmTypeName>("--vm-type")
        {
            Description = tdx
                ? "snp (the RMP and the policy's hooks), sw-protected (guest_memfd without hardware checks) or tdx (Intel TDX: Secure EPT and PAMT, the policy names a TDX design; docs/tdx.md)."
                : "snp (the RMP and the policy's hooks) or sw-protected (guest_memfd without hardware checks).",
            HelpName = string.Join('|', VmTypeNames.Take(count)),
            DefaultValueFactory = _ => new VmTypeName(KvmVmType.Snp),
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                switch (IndexOf(VmTypeNames, text))
                {
                    case 0: return new VmTypeName(KvmVmType.Snp);
                    case 1: return new VmTypeName(KvmVmType.SwProtected);
                    case 2 when tdx: return new VmTypeName(KvmVmType.Tdx);
                    default:
                        result.AddError($"--vm-type: '{text}' is not a VM type; use {string.Join(" or ", VmTypeNames.Take(count))}.");
                        return default;
                }
            },
        };
        option.CompletionSources.Add([.. VmTypeNames.Take(count)]);
        return option;
    }

    /// <summary>
    /// A size option such as <c>--host-size 256G</c> (binary units K, M, G, T), checked to lie in
    /// [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="defaultText"/> is its default, or null for none (null).
    /// </summary>
    public static Option<ByteSize?> Size(string name, string description, ulong min, ulong max, string? defaultText)
    {
        var option = new Option<ByteSize?>(name)
        {
            Description = $"{description} ({FormatSize(min)} to {FormatSize(max)}).",
            HelpName = "SIZE",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (!TryParseSize(text, out ulong bytes))
                {
                    result.AddError($"{name}: '{text}' is not a size; give a number with K, M, G or T (binary units), e.g. 64G, from {FormatSize(min)} to {FormatSize(max)}.");
                    return null;
                }

                if (bytes < min || bytes > max)
                {
                    result.AddError($"{name}: {text} is outside {FormatSize(min)} to {FormatSize(max)}.");
                }

                return new ByteSize(bytes);
            },
        };
        if (defaultText is not null)
        {
            ulong value = TryParseSize(defaultText, out ulong v) ? v : throw new ArgumentException($"'{defaultText}' is not a size.", nameof(defaultText));
            option.DefaultValueFactory = _ => new ByteSize(value);
        }

        return option;
    }

    /// <summary>Restricts <paramref name="argument"/> to <paramref name="values"/>: help, completion and a one-line error naming them.</summary>
    public static Argument<string> OneOf(Argument<string> argument, string what, string listIntro, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(argument);
        argument.CompletionSources.Add([.. values]);
        argument.Validators.Add(result => Check(result, "", what, listIntro, values));
        return argument;
    }

    /// <summary>Restricts <paramref name="option"/> to <paramref name="values"/>: help, completion and a one-line error naming them.</summary>
    public static Option<string> OneOf(Option<string> option, string what, string listIntro, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.HelpName = string.Join('|', values);
        option.CompletionSources.Add([.. values]);
        option.Validators.Add(result => Check(result, option.Name + ": ", what, listIntro, values));
        return option;
    }

    /// <summary>
    /// The value of <paramref name="option"/> in a validator of its command; false when the option's own parser
    /// rejected it (that error is already reported, and <see cref="SymbolResult.GetValue{T}(Option{T})"/> would throw).
    /// </summary>
    public static bool TryGetValue<T>(CommandResult result, Option<T> option, out T? value)
    {
        ArgumentNullException.ThrowIfNull(result);
        try
        {
            value = result.GetValue(option);
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }

    /// <summary>The folio size's name of a folio order: <c>4k</c>, <c>2m</c> or <c>1g</c>.</summary>
    public static string FolioName(int order) => new FolioSize(order).ToString();

    /// <summary>Parses a size such as 64G, 1T, 512M or 4096 (binary units K, M, G, T, either case).</summary>
    public static bool TryParseSize(string text, out ulong bytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        text = text.Trim();
        int shift = char.ToUpperInvariant(text.Length > 0 ? text[^1] : ' ') switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        string digits = shift == 0 ? text : text[..^1];
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) || value > ulong.MaxValue >> shift)
        {
            return false;
        }

        bytes = value << shift;
        return true;
    }

    /// <summary>A size in the largest binary unit that divides it, e.g. <c>16M</c>, <c>1T</c>; bytes otherwise.</summary>
    public static string FormatSize(ulong bytes)
    {
        foreach (var (shift, unit) in new[] { (40, 'T'), (30, 'G'), (20, 'M'), (10, 'K') })
        {
            if (bytes != 0 && bytes % (1UL << shift) == 0)
            {
                return $"{bytes >> shift}{unit}";
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    private static void Check(SymbolResult result, string prefix, string what, string listIntro, IReadOnlyList<string> values)
    {
        foreach (var token in result.Tokens)
        {
            if (!values.Contains(token.Value))
            {
                result.AddError($"{prefix}unknown {what} '{token.Value}'; {listIntro} {string.Join(", ", values)}.");
                return;
            }
        }
    }

    private static int IndexOf(IReadOnlyList<string> names, string text)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
