using System.Runtime.InteropServices;

namespace FastRmp.Engine.Memory;

/// <summary>
/// A growable array of <typeparamref name="T"/> in unmanaged memory with a single owner: what <c>realloc</c> gives
/// C code (the contents move, the old address dies), for lists that grow a step at a time, such as the compact RMP
/// store's slab table and free list.
/// </summary>
/// <remarks>
/// Not thread-safe. Elements are zeroed when the array is created or grows. <see cref="Pointer"/> changes on every
/// <see cref="Resize"/>: an owner that keeps it in a field for a hot path takes the new one from Resize's result.
/// Every live byte is counted in <see cref="NativeBuffer.LiveBytes"/>, and a finalizer frees the block if the owner
/// forgets to dispose it.
/// </remarks>
/// <typeparam name="T">The element type.</typeparam>
public sealed unsafe class NativeArray<T> : IDisposable
    where T : unmanaged
{
    private T* _items;
    private long _length;
    private long _pressure;
    private bool _disposed;

    /// <summary>Allocates <paramref name="length"/> zeroed elements (none for 0: <see cref="Pointer"/> is then null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative length.</exception>
    /// <exception cref="OutOfMemoryException">The allocation failed.</exception>
    public NativeArray(long length = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > 0)
        {
            _items = (T*)NativeMemory.AllocZeroed(checked((nuint)length * (nuint)sizeof(T)));
            _length = length;
            NativeBuffer.Track(Bytes);
            MemoryPressure.Update(ref _pressure, MemoryPressure.For(Bytes, mapped: false));
        }
    }

    /// <summary>Elements in the array.</summary>
    public long Length => _length;

    /// <summary>Bytes of unmanaged memory held.</summary>
    public long Bytes => _length * sizeof(T);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The first element (null while the array is empty); valid until the next <see cref="Resize"/>.</summary>
    /// <exception cref="ObjectDisposedException">The array was disposed.</exception>
    public T* Pointer
    {
        get
        {
            if (_disposed)
            {
                throw Disposal.Exception(this);
            }

            return _items;
        }
    }

    /// <summary>
    /// Grows or shrinks the array to <paramref name="length"/> elements, keeping the first min(old, new) of them and
    /// zeroing the rest; returns the new <see cref="Pointer"/> (the old one must not be used again).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative length.</exception>
    /// <exception cref="OutOfMemoryException">The allocation failed; the array is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The array was disposed.</exception>
    public T* Resize(long length)
    {
        if (_disposed)
        {
            throw Disposal.Exception(this);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0)
        {
            NativeMemory.Free(_items);
            _items = null;
        }
        else
        {
            var items = (T*)NativeMemory.Realloc(_items, checked((nuint)length * (nuint)sizeof(T)));
            if (length > _length)
            {
                NativeMemory.Clear(items + _length, (nuint)(length - _length) * (nuint)sizeof(T));
            }

            _items = items;
        }

        NativeBuffer.Track((length - _length) * sizeof(T));
        _length = length;
        MemoryPressure.Update(ref _pressure, MemoryPressure.For(Bytes, mapped: false));
        return _items;
    }

    /// <summary>Frees the array.</summary>
    /// <remarks>
    /// Frees the block and takes its bytes off <see cref="NativeBuffer.LiveBytes"/>. Later calls do nothing;
    /// afterwards <see cref="Pointer"/> and <see cref="Resize"/> throw <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the array if the owner forgot to.</summary>
    ~NativeArray() => Free();

    private void Free()
    {
        if (!_disposed)
        {
            _disposed = true;
            NativeMemory.Free(_items);
            _items = null;
            NativeBuffer.Track(-Bytes);
            _length = 0;
            MemoryPressure.Update(ref _pressure, 0);
        }
    }
}
