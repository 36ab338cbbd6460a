using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[module: SkipLocalsInit]

namespace FastRmp.Engine.Memory;

/// <summary>
/// One block of zeroed, aligned unmanaged memory with a single owner. The model's large tables (the raw RMP, the
/// compact RMP bitmaps, allocator metadata, memslot arrays) live in these, outside the GC heap.
/// </summary>
/// <remarks>
/// Not thread-safe. Spans handed out must not outlive the buffer; <see cref="Dispose"/> frees exactly once.
/// Every live byte is counted in <see cref="LiveBytes"/> so tests can check that nothing leaks.
/// </remarks>
public sealed unsafe partial class NativeBuffer : IDisposable
{
    private static long s_liveBytes;
    private void* _pointer;

    /// <summary>Allocates <paramref name="length"/> zeroed bytes aligned to <paramref name="alignment"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative length, or an alignment that is not a power of two.</exception>
    /// <exception cref="OutOfMemoryException">The allocation failed.</exception>
    public NativeBuffer(long length, int alignment = 64)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "The alignment must be a power of two.");
        }

        nuint bytes = checked((nuint)Math.Max(length, 1));
        _pointer = NativeMemory.AlignedAlloc(bytes, (nuint)alignment);
        NativeMemory.Clear(_pointer, bytes);
        Length = length;
        Alignment = alignment;
        Interlocked.Add(ref s_liveBytes, length);
    }

    /// <summary>Bytes of unmanaged memory held by all live buffers in the process.</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>Size in bytes.</summary>
    public long Length { get; }

    /// <summary>Alignment of the first byte.</summary>
    public int Alignment { get; }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _pointer == null;

    /// <summary>The first byte.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void* Pointer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    /// <summary>The buffer viewed as <paramref name="count"/> elements of <typeparamref name="T"/> from element <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not fit in the buffer or in a span.</exception>
    public Span<T> AsSpan<T>(long start, int count) where T : unmanaged
    {
        long size = sizeof(T);
        if (start < 0 || count < 0 || (start + count) * size > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Elements {start}..{start + count} of {size} bytes do not fit in {Length} bytes.");
        }

        return new Span<T>((T*)Pointer + start, count);
    }

    /// <summary>Frees the memory. Later calls do nothing.</summary>
    public void Dispose()
    {
        if (_pointer != null)
        {
            Release(_pointer);
            _pointer = null;
            Interlocked.Add(ref s_liveBytes, -Length);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory if the owner forgot to.</summary>
    ~NativeBuffer()
    {
        if (_pointer != null)
        {
            Release(_pointer);
            Interlocked.Add(ref s_liveBytes, -Length);
        }
    }

    private void Release(void* pointer)
    {
        if (IsMapped)
        {
            Unmap(pointer, Length);
        }
        else
        {
            NativeMemory.AlignedFree(pointer);
        }
    }
}
