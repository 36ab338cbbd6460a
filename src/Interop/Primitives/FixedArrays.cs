using System.Runtime.CompilerServices;

namespace FastRmp.Interop;

// Fixed-size C arrays inside mirrored structs. Each indexes like a Span<T> (bounds-checked) and has the size of N
// elements with no padding, as in C.

/// <summary>A C array of 2 elements.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(2)]
public struct FixedArray2<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 3 elements.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(3)]
public struct FixedArray3<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 5 elements.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(5)]
public struct FixedArray5<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 6 elements.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(6)]
public struct FixedArray6<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 11 elements (the reserved words of <c>kvm_memory_attributes2</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(11)]
public struct FixedArray11<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 14 elements.</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(14)]
public struct FixedArray14<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 64 elements (the page-state-change entries of <c>snp_psc_desc</c>).</summary>
/// <typeparam name="T">The element type.</typeparam>
[InlineArray(64)]
public struct FixedArray64<T> where T : unmanaged
{
    private T _element0;
}

/// <summary>A C array of 256 bytes (the kvm_run exit union).</summary>
[InlineArray(256)]
public struct FixedBytes256
{
    private byte _element0;
}
