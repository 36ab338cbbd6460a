using System.Runtime.InteropServices;
using FastRmp.Interop.Hardware;

namespace FastRmp.Tests.Common;

/// <summary>The C reference of the RMP model in libfastrmp_stubs (native-stubs/include/fastrmp_rmp_ref.h).</summary>
internal sealed unsafe partial class NativeRmpReference : IDisposable
{
    private const string Library = "fastrmp_stubs";
    private nint _handle;

    static NativeRmpReference() => NativeStubs.EnsureResolver();

    public NativeRmpReference(ulong pages)
    {
        _handle = fr_rmp_new(pages);
        if (_handle == 0)
        {
            throw new OutOfMemoryException($"fr_rmp_new({pages}) failed");
        }
    }

    public rmpentry_raw Read(ulong pfn)
    {
        rmpentry_raw e;
        fr_rmp_read(_handle, pfn, &e);
        return e;
    }

    public void SetInUse(ulong pfn, bool inUse) => fr_rmp_set_in_use(_handle, pfn, inUse ? 1 : 0);

    public int Update(ulong pfn, rmp_state state) => fr_rmp_update(_handle, pfn, &state);

    public int Psmash(ulong pfn) => fr_rmp_psmash(_handle, pfn);

    public int Pvalidate(ulong pfn, uint asid, ulong gfn, bool size2M, bool validate, out ulong npf)
    {
        ulong fault;
        int r = fr_rmp_pvalidate(_handle, pfn, asid, gfn, size2M ? 1 : 0, validate ? 1 : 0, &fault);
        npf = fault;
        return r;
    }

    public int Adjust(ulong pfn, uint asid, ulong gfn, bool size2M, int caller, int target, uint perms, bool vmsa, out ulong npf)
    {
        ulong fault;
        int r = fr_rmp_adjust(_handle, pfn, asid, gfn, size2M ? 1 : 0, caller, target, perms, vmsa ? 1 : 0, &fault);
        npf = fault;
        return r;
    }

    public ulong GuestAccess(ulong pfn, uint asid, ulong gfn, bool isPrivate, bool write, int nptLevel, out bool notValidated)
    {
        int nv;
        ulong r = fr_rmp_guest_access(_handle, pfn, asid, gfn, isPrivate ? 1 : 0, write ? 1 : 0, nptLevel, &nv);
        notValidated = nv != 0;
        return r;
    }

    public ulong HostWrite(ulong pfn, int hostLevel) => fr_rmp_host_write(_handle, pfn, hostLevel);

    /// <summary>RMPUPDATE of <paramref name="pfns"/>[i] to <paramref name="states"/>[i] in one native call; returns the failures.</summary>
    public ulong UpdateBatch(ReadOnlySpan<ulong> pfns, ReadOnlySpan<rmp_state> states)
    {
        fixed (ulong* p = pfns)
        fixed (rmp_state* s = states)
        {
            return fr_rmp_update_batch(_handle, p, s, (nuint)Math.Min(pfns.Length, states.Length));
        }
    }

    /// <summary>PSMASH of every pfn in one native call; returns the failures.</summary>
    public ulong PsmashBatch(ReadOnlySpan<ulong> pfns)
    {
        fixed (ulong* p = pfns)
        {
            return fr_rmp_psmash_batch(_handle, p, (nuint)pfns.Length);
        }
    }

    /// <summary>KVM's lookup over any raw table (a C# RawRmpStore's entries, say).</summary>
    public static void LookupBatch(rmpentry_raw* entries, ReadOnlySpan<ulong> pfns, Span<byte> results)
    {
        fixed (ulong* p = pfns)
        fixed (byte* r = results)
        {
            fr_rmp_lookup_batch(entries, p, (nuint)pfns.Length, r);
        }
    }

    /// <summary>KVM's lookup over a segmented table, walking its RST as the CPU does.</summary>
    public static void SegmentedLookupBatch(void* tableBase, int segmentShift, ReadOnlySpan<ulong> pfns, Span<byte> results)
    {
        fixed (ulong* p = pfns)
        fixed (byte* r = results)
        {
            fr_rmp_segmented_lookup_batch(tableBase, segmentShift, p, (nuint)pfns.Length, r);
        }
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            fr_rmp_free(_handle);
            _handle = 0;
        }
    }

    [LibraryImport(Library)] private static partial nint fr_rmp_new(ulong pages);
    [LibraryImport(Library)] private static partial void fr_rmp_free(nint rmp);
    [LibraryImport(Library)] private static partial void fr_rmp_read(nint rmp, ulong pfn, rmpentry_raw* output);
    [LibraryImport(Library)] private static partial void fr_rmp_set_in_use(nint rmp, ulong pfn, int inUse);
    [LibraryImport(Library)] private static partial int fr_rmp_update(nint rmp, ulong pfn, rmp_state* state);
    [LibraryImport(Library)] private static partial int fr_rmp_psmash(nint rmp, ulong pfn);
    [LibraryImport(Library)] private static partial int fr_rmp_pvalidate(nint rmp, ulong pfn, uint asid, ulong gfn, int size2M, int validate, ulong* npf);
    [LibraryImport(Library)] private static partial int fr_rmp_adjust(nint rmp, ulong pfn, uint asid, ulong gfn, int size2M, int caller, int target, uint perms, int vmsa, ulong* npf);
    [LibraryImport(Library)] private static partial ulong fr_rmp_guest_access(nint rmp, ulong pfn, uint asid, ulong gfn, int isPrivate, int write, int nptLevel, int* notValidated);
    [LibraryImport(Library)] private static partial ulong fr_rmp_host_write(nint rmp, ulong pfn, int hostLevel);
    [LibraryImport(Library)] private static partial void fr_rmp_segmented_lookup_batch(void* tableBase, int shift, ulong* pfns, nuint n, byte* output);
    [LibraryImport(Library)] private static partial nuint fr_rmp_update_batch(nint rmp, ulong* pfns, rmp_state* states, nuint n);
    [LibraryImport(Library)] private static partial nuint fr_rmp_psmash_batch(nint rmp, ulong* pfns, nuint n);
    [LibraryImport(Library)] private static partial void fr_rmp_lookup_batch(rmpentry_raw* entries, ulong* pfns, nuint n, byte* output);
}
