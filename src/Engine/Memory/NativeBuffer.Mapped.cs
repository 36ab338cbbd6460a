using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

// Anonymous private mappings for large tables (include/uapi/asm-generic/mman-common.h, x86-64: PROT_READ 1,
// PROT_WRITE 2, MAP_PRIVATE 2, MAP_ANONYMOUS 0x20): the kernel hands out zero pages lazily, so building a table
// touches only what it writes.
public sealed unsafe partial class NativeBuffer
{
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymousFlag = 0x20;

    private static void* Map(nuint bytes)
    {
        nint address = mmap(0, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymousFlag, -1, 0);
        if (address == -1)
        {
            throw new OutOfMemoryException($"mmap of {bytes} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        return (void*)address;
    }

    private static void Unmap(void* pointer, nuint bytes) => _ = munmap((nint)pointer, bytes);

    [LibraryImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int munmap(nint addr, nuint length);
}
