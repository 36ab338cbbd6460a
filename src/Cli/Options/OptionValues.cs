using FastRmp.Interop.Uapi;

namespace FastRmp.Cli.Options;

// Option values whose ToString is what the command line accepts, so --help shows defaults as users type them.

/// <summary>A size in bytes, written in the largest binary unit that divides it (<c>1T</c>).</summary>
/// <param name="Bytes">The size.</param>
internal readonly record struct ByteSize(ulong Bytes)
{
    /// <summary>E.g. <c>64G</c>.</summary>
    public override string ToString() => CliOptions.FormatSize(Bytes);
}

/// <summary>A VM type as the command line names it.</summary>
/// <param name="Type">The KVM VM type.</param>
internal readonly record struct VmTypeName(KvmVmType Type)
{
    /// <summary><c>snp</c>, <c>sw-protected</c> or <c>tdx</c>.</summary>
    public override string ToString() => Type switch { KvmVmType.Snp => "snp", KvmVmType.Tdx => "tdx", _ => "sw-protected" };
}
