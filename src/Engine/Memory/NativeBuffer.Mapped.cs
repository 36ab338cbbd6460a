using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

// Very large tables (allocator bitmaps for a multi-TiB host) come from an anonymous private mapping instead of the
// C heap: the kernel hands out zero pages lazily, so building a table touches only what it writes, and
// MADV_HUGEPAGE lets transparent huge pages back it when the host's THP mode is 'madvise' (include/uapi/
// asm-generic/mman-common.h: MADV_HUGEPAGE = 14; x86-64 MAP_ANONYMOUS = 0x20).
public sealed unsafe partial class NativeBuffer
{
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymousFlag = 0x20;
    private const int MadvHugePage = 14;

    private NativeBuffer(void* pointer, long length, int alignment, bool mapped)
    {
        _pointer = pointer;
        Length = length;
        Alignment = alignment;
        IsMapped = mapped;
        Interlocked.Add(ref s_liveBytes, length);
    }

    /// <summary>True when the memory is an anonymous mapping (see <see cref="MapAnonymous"/>) rather than a heap block.</summary>
    public bool IsMapped { get; }

    /// <summary>
    /// Reserves <paramref name="length"/> zeroed bytes as an anonymous private mapping (page-aligned), optionally
    /// advised for transparent huge pages. Off Linux this falls back to a zeroed heap block aligned to 4 KiB.
    /// </summary>
    /// <remarks>
    /// Pages are committed on first touch, so a large table that is mostly zero costs little real memory;
    /// <see cref="LiveBytes"/> counts the whole reserved length. The huge-page advice is a hint: its failure is ignored.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A negative length.</exception>
    /// <exception cref="OutOfMemoryException">The mapping failed.</exception>
    public static NativeBuffer MapAnonymous(long length, bool hugePages = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!OperatingSystem.IsLinux())
        {
            return new NativeBuffer(length, 4096);
        }

        nuint bytes = checked((nuint)Math.Max(length, 1));
        nint address = mmap(0, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymousFlag, -1, 0);
        if (address == -1)
        {
            throw new OutOfMemoryException($"mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        if (hugePages)
        {
            _ = madvise(address, bytes, MadvHugePage);
        }

        return new NativeBuffer((void*)address, length, 4096, mapped: true);
    }

    private static void Unmap(void* pointer, long length) => _ = munmap((nint)pointer, checked((nuint)Math.Max(length, 1)));

    [LibraryImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int munmap(nint addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int madvise(nint addr, nuint length, int advice);
}
