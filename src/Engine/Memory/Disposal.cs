using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FastRmp.Engine.Memory;

/// <summary>The throw path of the native owners' disposed checks, kept out of the callers so their checks inline.</summary>
internal static class Disposal
{
    /// <summary>Throws <see cref="ObjectDisposedException"/> naming <paramref name="owner"/>'s type.</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw(object owner) => throw new ObjectDisposedException(owner.GetType().FullName);
}
