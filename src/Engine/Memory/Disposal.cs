using System.Runtime.CompilerServices;

namespace FastRmp.Engine.Memory;

/// <summary>The exception of the native owners' disposed checks.</summary>
/// <remarks>
/// Callers write <c>throw Disposal.Exception(this)</c>: the <c>throw</c> in the caller tells the JIT that the block
/// never returns, so it is laid out cold and the hot path keeps its registers (a call to a non-inlined helper that
/// throws looks like an ordinary call: values live across it are spilled and fields reloaded after it). Building the
/// exception stays out of line.
/// </remarks>
internal static class Disposal
{
    /// <summary>An <see cref="ObjectDisposedException"/> naming <paramref name="owner"/>'s type.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ObjectDisposedException Exception(object owner) => new(owner.GetType().FullName);
}
