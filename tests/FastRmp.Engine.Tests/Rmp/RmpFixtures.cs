using FastRmp.Engine.Rmp;
using FastRmp.Interop;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Tests.Rmp;

internal static class RmpFixtures
{
    public static TheoryData<string> Stores() => new() { "raw", "compact", "segmented" };

    /// <summary>A table over the named store; segmented tables use 1 GiB segments so small hosts span several.</summary>
    public static RmpTable Create(string store, ulong pages = 4096) => store switch
    {
        "raw" => RmpTable.CreateRaw(pages),
        "compact" => RmpTable.CreateCompact(pages),
        _ => RmpTable.CreateSegmented(pages, segmentShift: 30),
    };

    public static rmp_state Private(ulong gfn, uint asid, bool huge = false, bool immutable = false)
        => new()
        {
            gpa = gfn << 12,
            assigned = 1,
            pagesize = huge ? (byte)1 : (byte)0,
            immutable = immutable ? (byte)1 : (byte)0,
            asid = asid,
        };

    public static rmp_state Shared(bool huge = false) => new() { pagesize = huge ? (byte)1 : (byte)0 };

    public static kvm_pfn_t Pfn(ulong value) => new(value);

    public static gfn_t Gfn(ulong value) => new(value);
}
