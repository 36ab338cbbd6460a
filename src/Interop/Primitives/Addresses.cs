using System.Runtime.CompilerServices;

namespace FastRmp.Interop;

// The kernel's address typedefs as distinct types, so a gfn cannot be passed where a pfn is expected. Each is a
// blittable 8-byte wrapper over the C value (include/linux/kvm_types.h: gpa_t, gfn_t, hva_t; kvm_pfn_t).

/// <summary>A guest physical address (<c>gpa_t</c>, u64).</summary>
public readonly record struct gpa_t(ulong Value) : IComparable<gpa_t>
{
    /// <summary>The guest frame that holds this address (<c>gpa_to_gfn</c>: gpa &gt;&gt; 12).</summary>
    public gfn_t Gfn
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Value >> PageSize.Shift4K);
    }

    /// <summary>The byte offset inside the 4 KiB page.</summary>
    public uint PageOffset => (uint)(Value & PageSize.Mask4K);

    /// <inheritdoc />
    public int CompareTo(gpa_t other) => Value.CompareTo(other.Value);

    /// <summary>Wraps a raw value.</summary>
    public static explicit operator gpa_t(ulong value) => new(value);

    /// <summary>Unwraps the raw value.</summary>
    public static explicit operator ulong(gpa_t value) => value.Value;

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";

    /// <summary>Ordering.</summary>
    public static bool operator <(gpa_t a, gpa_t b) => a.Value < b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(gpa_t a, gpa_t b) => a.Value > b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(gpa_t a, gpa_t b) => a.Value <= b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(gpa_t a, gpa_t b) => a.Value >= b.Value;
}

/// <summary>A guest frame number (<c>gfn_t</c>, u64): a guest physical address &gt;&gt; 12.</summary>
public readonly record struct gfn_t(ulong Value) : IComparable<gfn_t>
{
    /// <summary>The first guest physical address of this frame (<c>gfn_to_gpa</c>).</summary>
    public gpa_t Gpa
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Value << PageSize.Shift4K);
    }

    /// <inheritdoc />
    public int CompareTo(gfn_t other) => Value.CompareTo(other.Value);

    /// <summary>Wraps a raw value.</summary>
    public static explicit operator gfn_t(ulong value) => new(value);

    /// <summary>Unwraps the raw value.</summary>
    public static explicit operator ulong(gfn_t value) => value.Value;

    /// <summary>The frame <paramref name="pages"/> frames after <paramref name="gfn"/>.</summary>
    public static gfn_t operator +(gfn_t gfn, ulong pages) => new(gfn.Value + pages);

    /// <summary>The number of frames between two gfns.</summary>
    public static ulong operator -(gfn_t a, gfn_t b) => a.Value - b.Value;

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";

    /// <summary>Ordering.</summary>
    public static bool operator <(gfn_t a, gfn_t b) => a.Value < b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(gfn_t a, gfn_t b) => a.Value > b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(gfn_t a, gfn_t b) => a.Value <= b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(gfn_t a, gfn_t b) => a.Value >= b.Value;
}

/// <summary>A host page frame number (<c>kvm_pfn_t</c>, u64): a host physical address &gt;&gt; 12.</summary>
public readonly record struct kvm_pfn_t(ulong Value) : IComparable<kvm_pfn_t>
{
    /// <summary>The host physical address of the frame.</summary>
    public ulong PhysicalAddress => Value << PageSize.Shift4K;

    /// <inheritdoc />
    public int CompareTo(kvm_pfn_t other) => Value.CompareTo(other.Value);

    /// <summary>Wraps a raw value.</summary>
    public static explicit operator kvm_pfn_t(ulong value) => new(value);

    /// <summary>Unwraps the raw value.</summary>
    public static explicit operator ulong(kvm_pfn_t value) => value.Value;

    /// <summary>The frame <paramref name="pages"/> frames after <paramref name="pfn"/>.</summary>
    public static kvm_pfn_t operator +(kvm_pfn_t pfn, ulong pages) => new(pfn.Value + pages);

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";

    /// <summary>Ordering.</summary>
    public static bool operator <(kvm_pfn_t a, kvm_pfn_t b) => a.Value < b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(kvm_pfn_t a, kvm_pfn_t b) => a.Value > b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(kvm_pfn_t a, kvm_pfn_t b) => a.Value <= b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(kvm_pfn_t a, kvm_pfn_t b) => a.Value >= b.Value;
}

/// <summary>A host virtual address in the VMM's address space (<c>hva_t</c>, unsigned long).</summary>
public readonly record struct hva_t(ulong Value) : IComparable<hva_t>
{
    /// <inheritdoc />
    public int CompareTo(hva_t other) => Value.CompareTo(other.Value);

    /// <summary>Wraps a raw value.</summary>
    public static explicit operator hva_t(ulong value) => new(value);

    /// <summary>Unwraps the raw value.</summary>
    public static explicit operator ulong(hva_t value) => value.Value;

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";

    /// <summary>Ordering.</summary>
    public static bool operator <(hva_t a, hva_t b) => a.Value < b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(hva_t a, hva_t b) => a.Value > b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(hva_t a, hva_t b) => a.Value <= b.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(hva_t a, hva_t b) => a.Value >= b.Value;
}

/// <summary>x86 page sizes. Constants only: thread-safe.</summary>
public static class PageSize
{
    /// <summary>log2 of 4 KiB.</summary>
    public const int Shift4K = 12;

    /// <summary>log2 of 2 MiB.</summary>
    public const int Shift2M = 21;

    /// <summary>log2 of 1 GiB.</summary>
    public const int Shift1G = 30;

    /// <summary>4 KiB.</summary>
    public const ulong Size4K = 1UL << Shift4K;

    /// <summary>2 MiB.</summary>
    public const ulong Size2M = 1UL << Shift2M;

    /// <summary>1 GiB.</summary>
    public const ulong Size1G = 1UL << Shift1G;

    /// <summary>The offset bits of a 4 KiB page.</summary>
    public const ulong Mask4K = Size4K - 1;

    /// <summary>4 KiB pages in a 2 MiB page.</summary>
    public const int PagesPer2M = 512;

    /// <summary>4 KiB pages in a 1 GiB page.</summary>
    public const int PagesPer1G = 512 * 512;
}
