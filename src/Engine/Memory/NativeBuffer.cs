using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[module: SkipLocalsInit]

namespace FastRmp.Engine.Memory;

/// <summary>
/// One block of zeroed, aligned unmanaged memory with a single owner. The model's large tables (the raw RMP, the
/// compact RMP bitmaps, allocator metadata, memslot arrays) live in these, outside the GC heap.
/// </summary>
/// <remarks>
/// Not thread-safe. Spans handed out must not outlive the buffer; <see cref="Dispose"/> frees exactly once. Large
/// buffers (2 MiB and up, or with <c>hugePages</c>) are anonymous mappings on Linux: the kernel hands out zero pages
/// lazily, so a 4 GiB table costs nothing until it is touched, and with <c>hugePages</c> the block is 2 MiB-aligned
/// and advised for transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>; a hint, failures ignored). Small buffers
/// are zeroed heap blocks. Every live byte is counted in <see cref="LiveBytes"/> so tests can check that nothing leaks;
/// the project's other native owners (<see cref="NativeArray{T}"/>) feed the same counter. Big blocks are reported to
/// the GC as memory pressure (<see cref="MemoryPressure"/>), so a leaked owner is finalized as memory fills. Outside this namespace no
/// code calls <see cref="NativeMemory"/>: every unmanaged block has an owner here, with a finalizer as a safety net.
/// </remarks>
public sealed unsafe partial class NativeBuffer : IDisposable
{
    private static long s_liveBytes;
    private void* _allocation;
    private nuint _mappedBytes;
    private void* _pointer;
    private long _pressure;

    /// <summary>Allocates <paramref name="length"/> zeroed bytes aligned to <paramref name="alignment"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative length, or an alignment that is not a power of two.</exception>
    /// <exception cref="OutOfMemoryException">The allocation failed.</exception>
    public NativeBuffer(long length, int alignment = 64, bool hugePages = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "The alignment must be a power of two.");
        }

        if (hugePages)
        {
            alignment = Math.Max(alignment, HugePages.Size);
        }

        nuint bytes = checked((nuint)Math.Max(length, 1) + (nuint)alignment);
        if (OperatingSystem.IsLinux() && (hugePages || length >= HugePages.Size))
        {
            _allocation = Map(bytes);
            _mappedBytes = bytes;
        }
        else
        {
            _allocation = NativeMemory.AllocZeroed(bytes);
        }

        _pointer = (void*)(((nuint)_allocation + (nuint)alignment - 1) & ~((nuint)alignment - 1));
        if (hugePages)
        {
            HugePages.Advise(_pointer, (nuint)length);
        }

        Length = length;
        Alignment = alignment;
        Track(length);
        MemoryPressure.Update(ref _pressure, MemoryPressure.For(length, _mappedBytes != 0));
    }

    /// <summary>
    /// Bytes of unmanaged memory held by all live native owners in the process (buffers, and the arrays of
    /// <see cref="NativeArray{T}"/>).
    /// </summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>Size in bytes.</summary>
    public long Length { get; }

    /// <summary>Alignment of the first byte.</summary>
    public int Alignment { get; }

    /// <summary>True when the memory is an anonymous mapping rather than a heap block.</summary>
    public bool IsMapped => _mappedBytes != 0;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _pointer == null;

    /// <summary>The first byte.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void* Pointer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            void* pointer = _pointer;
            if (pointer == null)
            {
                throw Disposal.Exception(this);
            }

            return pointer;
        }
    }

    /// <summary>
    /// Reserves <paramref name="length"/> zeroed, page-aligned bytes as an anonymous mapping (a zeroed heap block off
    /// Linux), advised for transparent huge pages when <paramref name="hugePages"/> is set.
    /// </summary>
    public static NativeBuffer MapAnonymous(long length, bool hugePages = true)
        => OperatingSystem.IsLinux() ? new NativeBuffer(length, 4096, hugePages, forceMap: true) : new NativeBuffer(length, 4096);

    /// <summary>The buffer viewed as <paramref name="count"/> elements of <typeparamref name="T"/> from element <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not fit in the buffer.</exception>
    public Span<T> AsSpan<T>(long start, int count) where T : unmanaged
    {
        long size = sizeof(T);
        if (start < 0 || count < 0 || (start + count) * size > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Elements {start}..{start + count} of {size} bytes do not fit in {Length} bytes.");
        }

        return new Span<T>((T*)Pointer + start, count);
    }

    /// <summary>Frees the memory.</summary>
    /// <remarks>
    /// Unmaps or frees the block and takes its bytes off <see cref="LiveBytes"/>. Later calls do nothing; afterwards
    /// <see cref="Pointer"/> and <see cref="AsSpan{T}"/> throw <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory if the owner forgot to.</summary>
    ~NativeBuffer() => Free();

    private NativeBuffer(long length, int alignment, bool hugePages, bool forceMap)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        nuint bytes = checked((nuint)Math.Max(length, 1));
        _allocation = _pointer = Map(bytes);
        _mappedBytes = bytes;
        if (hugePages && forceMap)
        {
            HugePages.Advise(_pointer, bytes);
        }

        Length = length;
        Alignment = alignment;
        Track(length);
        MemoryPressure.Update(ref _pressure, MemoryPressure.For(length, mapped: true));
    }

    /// <summary>Adds <paramref name="bytes"/> (negative when freeing) to <see cref="LiveBytes"/>.</summary>
    internal static void Track(long bytes) => Interlocked.Add(ref s_liveBytes, bytes);

    private void Free()
    {
        if (_allocation != null)
        {
            if (_mappedBytes != 0)
            {
                Unmap(_allocation, _mappedBytes);
            }
            else
            {
                NativeMemory.Free(_allocation);
            }

            _allocation = null;
            _pointer = null;
            _mappedBytes = 0;
            Track(-Length);
            MemoryPressure.Update(ref _pressure, 0);
        }
    }
}
