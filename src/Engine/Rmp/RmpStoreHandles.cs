using System.Runtime.CompilerServices;
using FastRmp.Interop.Hardware;

namespace FastRmp.Engine.Rmp;

// The type arguments of RmpTable<TStore>: one readonly struct per store class, holding the store and forwarding each
// member to it. A generic instantiated over a struct gets its own machine code, and each call below is a call to a
// sealed class's method, which the JIT binds directly and inlines when small (the lookup becomes two bitmap loads
// inside RmpTable<CompactStoreHandle>.Lookup). Over the store classes themselves the generic code would be shared
// between reference types and every call would dispatch through the interface again. Tsavorite wraps its allocator
// classes in structs the same way. AnyAssignedTo is not used by the table; the raw stores take the interface's
// default, as their own callers do.

/// <summary>A <see cref="CompactRmpStore"/> as a type argument of <see cref="RmpTable{TStore}"/>.</summary>
internal readonly struct CompactStoreHandle(CompactRmpStore store) : IRmpStore
{
    public ulong Pages => store.Pages;

    public long MemoryBytes => store.MemoryBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAssigned(ulong pfn) => store.IsAssigned(pfn);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHuge(ulong region) => store.IsHuge(region);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn) => store.Lookup(pfn);

    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results) => store.Lookup(pfns, results);

    public rmpentry_raw Read(ulong pfn) => store.Read(pfn);

    public bool AnyAssigned(ulong region) => store.AnyAssigned(region);

    public bool AnyAssignedTo(ulong region, uint asid) => store.AnyAssignedTo(region, asid);

    public bool AnyImmutable(ulong region) => store.AnyImmutable(region);

    public void Write4K(ulong pfn, rmpentry_raw entry) => store.Write4K(pfn, entry);

    public void Write2M(ulong region, rmpentry_raw head) => store.Write2M(region, head);

    public void Clear2M(ulong region) => store.Clear2M(region);

    public void Smash(ulong region) => store.Smash(region);

    public bool NoneAssigned(ulong pfn, ulong count) => store.NoneAssigned(pfn, count);

    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.WriteRun4K(pfn, count, asid, gfn);

    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.TryValidateRun4K(pfn, count, asid, gfn);

    public void SetValidated(ulong pfn, bool validated) => store.SetValidated(pfn, validated);

    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn) => store.IsGuestRun(pfn, count, asid, gfn);

    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
        => store.CountGuestEntries(pfn, count, asid, ref heads2M, ref entries4K);

    public void GuestMask(ulong region, uint asid, Span<ulong> mask) => store.GuestMask(region, asid, mask);

    public void Dispose() => store.Dispose();
}

/// <summary>A <see cref="RawRmpStore"/> as a type argument of <see cref="RmpTable{TStore}"/>.</summary>
internal readonly struct RawStoreHandle(RawRmpStore store) : IRmpStore
{
    public ulong Pages => store.Pages;

    public long MemoryBytes => store.MemoryBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAssigned(ulong pfn) => store.IsAssigned(pfn);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsHuge(ulong region) => store.IsHuge(region);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn) => store.Lookup(pfn);

    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results) => store.Lookup(pfns, results);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public rmpentry_raw Read(ulong pfn) => store.Read(pfn);

    public bool AnyAssigned(ulong region) => store.AnyAssigned(region);

    public bool AnyImmutable(ulong region) => store.AnyImmutable(region);

    public void Write4K(ulong pfn, rmpentry_raw entry) => store.Write4K(pfn, entry);

    public void Write2M(ulong region, rmpentry_raw head) => store.Write2M(region, head);

    public void Clear2M(ulong region) => store.Clear2M(region);

    public void Smash(ulong region) => store.Smash(region);

    public bool NoneAssigned(ulong pfn, ulong count) => store.NoneAssigned(pfn, count);

    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.WriteRun4K(pfn, count, asid, gfn);

    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.TryValidateRun4K(pfn, count, asid, gfn);

    public void SetValidated(ulong pfn, bool validated) => store.SetValidated(pfn, validated);

    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn) => store.IsGuestRun(pfn, count, asid, gfn);

    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
        => store.CountGuestEntries(pfn, count, asid, ref heads2M, ref entries4K);

    public void GuestMask(ulong region, uint asid, Span<ulong> mask) => store.GuestMask(region, asid, mask);

    public void Dispose() => store.Dispose();
}

/// <summary>A <see cref="SegmentedRmpStore"/> as a type argument of <see cref="RmpTable{TStore}"/>.</summary>
internal readonly struct SegmentedStoreHandle(SegmentedRmpStore store) : IRmpStore
{
    public ulong Pages => store.Pages;

    public long MemoryBytes => store.MemoryBytes;

    public bool IsAssigned(ulong pfn) => store.IsAssigned(pfn);

    public bool IsHuge(ulong region) => store.IsHuge(region);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpLookup Lookup(ulong pfn) => store.Lookup(pfn);

    public void Lookup(ReadOnlySpan<ulong> pfns, Span<RmpLookup> results) => store.Lookup(pfns, results);

    public rmpentry_raw Read(ulong pfn) => store.Read(pfn);

    public bool AnyAssigned(ulong region) => store.AnyAssigned(region);

    public bool AnyImmutable(ulong region) => store.AnyImmutable(region);

    public void Write4K(ulong pfn, rmpentry_raw entry) => store.Write4K(pfn, entry);

    public void Write2M(ulong region, rmpentry_raw head) => store.Write2M(region, head);

    public void Clear2M(ulong region) => store.Clear2M(region);

    public void Smash(ulong region) => store.Smash(region);

    public bool NoneAssigned(ulong pfn, ulong count) => store.NoneAssigned(pfn, count);

    public void WriteRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.WriteRun4K(pfn, count, asid, gfn);

    public bool TryValidateRun4K(ulong pfn, ulong count, uint asid, ulong gfn) => store.TryValidateRun4K(pfn, count, asid, gfn);

    public void SetValidated(ulong pfn, bool validated) => store.SetValidated(pfn, validated);

    public bool IsGuestRun(ulong pfn, ulong count, uint asid, ulong gfn) => store.IsGuestRun(pfn, count, asid, gfn);

    public void CountGuestEntries(ulong pfn, ulong count, uint asid, ref long heads2M, ref long entries4K)
        => store.CountGuestEntries(pfn, count, asid, ref heads2M, ref entries4K);

    public void GuestMask(ulong region, uint asid, Span<ulong> mask) => store.GuestMask(region, asid, mask);

    public void Dispose() => store.Dispose();
}
