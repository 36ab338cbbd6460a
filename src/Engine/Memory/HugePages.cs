using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

/// <summary>Transparent huge page advice for large tables (Linux only; a no-op elsewhere).</summary>
internal static unsafe partial class HugePages
{
    /// <summary>The x86-64 huge page size, 2 MiB.</summary>
    public const int Size = 2 << 20;

    private const int MADV_HUGEPAGE = 14;

    /// <summary>Advises the 2 MiB-aligned part of a range for huge pages. Failures are ignored: it is a hint.</summary>
    public static void Advise(void* start, nuint length)
    {
        if (!OperatingSystem.IsLinux() || length < Size)
        {
            return;
        }

        nuint first = ((nuint)start + Size - 1) & ~(nuint)(Size - 1);
        nuint end = ((nuint)start + length) & ~(nuint)(Size - 1);
        if (end > first)
        {
            _ = madvise((void*)first, end - first, MADV_HUGEPAGE);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
