using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing.Writing;

/// <summary>
/// Fills ring-buffer pages for one CPU: u64 page timestamp, u64 commit, then 4-byte aligned events.
/// </summary>
/// <remarks>Models the ring-buffer page format of traces.md 2.4 (the one <see cref="CpuStream"/> reads).</remarks>
#pragma warning disable CA1001 // MemoryStream holds no unmanaged resource; nothing to dispose.
internal sealed class CpuPages(int pageSize)
#pragma warning restore CA1001
{
    private const int DataOffset = 16;
    private const uint MaxDelta = (1u << 27) - 1;
    private readonly MemoryStream _done = new();
    private readonly byte[] _page = new byte[pageSize];
    private int _used;
    private ulong _lastTs;
    private bool _open;

    public void Add(ulong ts, ReadOnlySpan<byte> record)
    {
        if (_open && ts < _lastTs)
        {
            throw new ArgumentException($"timestamps must not decrease within a CPU ({ts} after {_lastTs})", nameof(ts));
        }

        int len = record.Length;
        bool small = len <= 112 && len > 0;
        int payload = (len + 3) & ~3;
        int need = (small ? 4 : 8) + payload;
        if (need > pageSize - DataOffset)
        {
            throw new ArgumentException($"a {len}-byte record does not fit a {pageSize}-byte page", nameof(record));
        }

        ulong delta = _open ? ts - _lastTs : 0;
        int extend = delta > MaxDelta ? 8 : 0;
        if (!_open || DataOffset + _used + extend + need > pageSize)
        {
            Flush();
            _open = true;
            BinaryPrimitives.WriteUInt64LittleEndian(_page, ts);
            _lastTs = ts;
            delta = 0;
            extend = 0;
        }

        var p = _page.AsSpan(DataOffset + _used);
        if (extend > 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, 30u | (uint)((delta & MaxDelta) << 5));
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)(delta >> 27));
            p = p[8..];
            _used += 8;
            delta = 0;
        }

        if (small)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)(payload / 4) | ((uint)delta << 5));
            record.CopyTo(p[4..]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)delta << 5);
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)len + 4);
            record.CopyTo(p[8..]);
        }

        _used += need;
        _lastTs = ts;
    }

    public byte[] Finish()
    {
        Flush();
        return _done.ToArray();
    }

    private void Flush()
    {
        if (!_open)
        {
            return;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(_page.AsSpan(8), (ulong)_used);
        _done.Write(_page);
        Array.Clear(_page);
        _used = 0;
        _open = false;
    }
}
