using System.IO.Compression;

namespace FastRmp.Interop.Tracing;

/// <summary>Decompresses trace.dat v7 sections and flyrecord chunks (zstd frames without content size; zlib RFC 1950).</summary>
/// <remarks>
/// Source: traces.md section 2.3 (zstd via ZstdSharp.Port, a pure managed port; zlib as written by <c>compress2</c>).
/// One instance per reader; not thread-safe.
/// </remarks>
internal abstract class ChunkDecompressor : IDisposable
{
    public abstract string Name { get; }

    /// <summary>A decompressor for the file's compression name, or null for <c>none</c>.</summary>
    public static ChunkDecompressor? Create(string name, string file) => name switch
    {
        "none" or "" => null,
        "zstd" => new Zstd(),
        "zlib" => new Zlib(),
        _ => throw new TraceFormatException($"{file}: unsupported compression '{name}' (FastRmp reads none, zstd and zlib)"),
    };

    /// <summary>Decompresses into <paramref name="destination"/>; returns the byte count, or -1 when the data is corrupt.</summary>
    public abstract int Decompress(byte[] source, int length, Span<byte> destination);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class Zstd : ChunkDecompressor
    {
        // A decompression context is costly to create (its window buffers) and not thread-safe: one per thread,
        // taken at each call because prefetching decompresses on thread-pool threads.
        [ThreadStatic]
        private static ZstdSharp.Decompressor? t_shared;

        public override string Name => "zstd";

        public override int Decompress(byte[] source, int length, Span<byte> destination)
        {
            try
            {
                return (t_shared ??= new()).Unwrap(source.AsSpan(0, length), destination);
            }
            catch (ZstdSharp.ZstdException)
            {
                return -1;
            }
        }

        protected override void Dispose(bool disposing)
        {
            // The shared context stays alive for the thread's next file.
            base.Dispose(disposing);
        }
    }

    private sealed class Zlib : ChunkDecompressor
    {
        public override string Name => "zlib";

        public override int Decompress(byte[] source, int length, Span<byte> destination)
        {
            try
            {
                {
                    using var ms = new MemoryStream(source, 0, length, writable: false);
                    using var z = new ZLibStream(ms, CompressionMode.Decompress);
                    int total = 0;
                    while (total < destination.Length)
                    {
                        int n = z.Read(destination[total..]);
                        if (n == 0)
                        {
                            break;
                        }

                        total += n;
                    }

                    return total;
                }
            }
            catch (InvalidDataException)
            {
                return -1;
            }
        }
    }
}
