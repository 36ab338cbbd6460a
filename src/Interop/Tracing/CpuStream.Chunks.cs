using System.Buffers.Binary;

namespace FastRmp.Interop.Tracing;

/// <content>
/// Compressed flyrecord data: <c>u32 chunk count</c>, then chunks of <c>u32 compressed size, u32 uncompressed size,
/// data</c> (traces.md 2.3). While the reader parses one chunk, the next is read and decompressed on the thread pool
/// into a second buffer; damage found there is handed back and recorded on the reader's thread.
/// </content>
internal sealed partial class CpuStream : IDisposable
{
    private Chunk _current = new();
    private Chunk _spare = new();
    private Task<Chunk>? _pending;
    private int _chunkIndex;

    /// <summary>
    /// Whether the next chunk is decompressed on the thread pool while this one is parsed (default). Off when every
    /// core already reads a CPU of its own (<see cref="TraceScan"/>): the extra tasks then only compete with the readers
    /// (measured: 35 % more CPU time for the same work on 2 cores).
    /// </summary>
    public bool Prefetch { get; set; } = true;

    /// <summary>Waits for a prefetch still running, so nothing reads the input after the reader is disposed.</summary>
    public void Dispose()
    {
        try
        {
            _pending?.Wait();
        }
        catch (AggregateException)
        {
            // The reader is going away; a failed prefetch has nobody left to report to.
        }

        _pending = null;
    }

    private bool RefillChunk()
    {
        while (true)
        {
            Chunk c;
            if (_pending is not null)
            {
                c = _pending.GetAwaiter().GetResult();
                _pending = null;
            }
            else if (_chunksLeft > 0)
            {
                c = Load(_spare, _next, _chunkIndex + 1);
            }
            else
            {
                return false;
            }

            _chunksLeft--;
            _chunkIndex++;
            if (c.Damage is not null)
            {
                _stats.AddDamage(new TraceDamage(Cpu, c.At, c.Damage));
            }

            if (c.Stop)
            {
                _chunksLeft = 0;
            }

            _stats.BytesRead += Math.Max(0, c.Next - c.At); // here, not in Load: Load runs on a worker thread
            _next = c.Next;
            _spare = _current;
            _current = c;
            if (_chunksLeft > 0 && Prefetch)
            {
                var target = _spare;
                long at = _next;
                int index = _chunkIndex + 1;
                _pending = Task.Run(() => Load(target, at, index));
            }

            if (c.Damage is null && c.Length > 0)
            {
                _buf = c.Data;
                _bufLen = c.Length;
                _bufFileOffset = c.At;
                return true;
            }

            if (c.Stop)
            {
                return false;
            }
        }
    }

    /// <summary>Reads and decompresses the chunk at <paramref name="at"/> into <paramref name="c"/>; never throws for bad data.</summary>
    private Chunk Load(Chunk c, long at, int index)
    {
        c.At = at;
        c.Length = 0;
        c.Damage = null;
        c.Stop = false;
        Span<byte> h = stackalloc byte[8];
        if (_input.ReadAt(at, h) != 8)
        {
            return c.Fail("truncated compressed chunk header", stop: true);
        }

        uint csize = _be ? BinaryPrimitives.ReadUInt32BigEndian(h) : BinaryPrimitives.ReadUInt32LittleEndian(h);
        uint usize = _be ? BinaryPrimitives.ReadUInt32BigEndian(h[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        // trace-cmd compresses CPU data in chunks of PAGES_IN_CHUNK (10) pages (lib/trace-cmd/trace-output.c,
        // out_copy_fd_compress): a chunk claiming more than MaxChunkPages pages is refused before anything is
        // allocated for it, so a few bytes cannot make each CPU's stream reserve hundreds of MiB (a decompression bomb).
        if (csize > MaxChunkBytes || usize > MaxChunkBytes || usize > (ulong)MaxChunkPages * (ulong)_pageSize
            || csize > _input.Length - at - 8 || usize > ((ulong)csize * 32768) + (1 << 20))
        {
            return c.Fail($"compressed chunk with impossible sizes ({csize} -> {usize}); the rest of this CPU's data", stop: true);
        }

        c.Next = at + 8 + csize;
        Ensure(ref c.Compressed, (int)csize);
        Ensure(ref c.Data, (int)usize);
        if (_input.ReadAt(at + 8, c.Compressed.AsSpan(0, (int)csize)) != csize)
        {
            return c.Fail("truncated compressed chunk", stop: true);
        }

        int n = _decompressor?.Decompress(c.Compressed, (int)csize, c.Data.AsSpan(0, (int)usize)) ?? -1;
        if (n != usize)
        {
            return c.Fail($"corrupt compressed chunk {index}", stop: false);
        }

        c.Length = (int)usize;
        return c;
    }

    private sealed class Chunk
    {
        public byte[] Data = [];
        public byte[] Compressed = [];
        public int Length;
        public long At;
        public long Next;
        public string? Damage;
        public bool Stop;

        public Chunk Fail(string damage, bool stop)
        {
            Damage = damage;
            Stop = stop;
            return this;
        }
    }
}
