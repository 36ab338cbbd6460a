using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing.Writing;

/// <summary>
/// Fills ring-buffer pages for one CPU: u64 page timestamp, u64 commit, then 4-byte aligned events.
/// </summary>
/// <remarks>Models the ring-buffer page format of traces.md 2.4 (the one <see cref="CpuStream"/> reads).</remarks>
#pragma warning disable CA1001 // MemoryStream holds no unmanaged resource; nothing to dispose.
internal sealed class CpuPages(int pageSize, int longSize, bool bigEndian)
#pragma warning restore CA1001
{
    private const uint MaxDelta = (1u << 27) - 1;
    private readonly int _dataOffset = 8 + longSize;
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
        if (need > pageSize - _dataOffset)
        {
            throw new ArgumentException($"a {len}-byte record does not fit a {pageSize}-byte page", nameof(record));
        }

        ulong delta = _open ? ts - _lastTs : 0;
        int extend = delta > MaxDelta ? 8 : 0;
        if (!_open || _dataOffset + _used + extend + need > pageSize)
        {
            Flush();
            _open = true;
            W64(_page, ts);
            _lastTs = ts;
            delta = 0;
            extend = 0;
        }

        var p = _page.AsSpan(_dataOffset + _used);
        if (extend > 0)
        {
            W32(p, Header(30, (uint)(delta & MaxDelta)));
            W32(p[4..], (uint)(delta >> 27));
            p = p[8..];
            _used += 8;
            delta = 0;
        }

        if (small)
        {
            W32(p, Header((uint)(payload / 4), (uint)delta));
            record.CopyTo(p[4..]);
        }
        else
        {
            W32(p, Header(0, (uint)delta));
            W32(p[4..], (uint)len + 4);
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

        if (longSize == 8)
        {
            W64(_page.AsSpan(8), (ulong)_used);
        }
        else
        {
            W32(_page.AsSpan(8), (uint)_used);
        }

        _done.Write(_page);
        Array.Clear(_page);
        _used = 0;
        _open = false;
    }

    /// <summary>The event header word: type_len in the low 5 bits (little-endian) or the top 5 bits (big-endian).</summary>
    private uint Header(uint typeLen, uint delta) => bigEndian ? (typeLen << 27) | delta : typeLen | (delta << 5);

    private void W32(Span<byte> s, uint v)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(s, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s, v);
        }
    }

    private void W64(Span<byte> s, ulong v)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(s, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s, v);
        }
    }
}
