using System.Text;

namespace FastRmp.Interop.Tracing.Perf;

/// <content>Feature sections: the ones FastRmp reads (tracing data, host strings, CPU count, compression).</content>
public sealed partial class PerfDataFile
{
    private const int HostnameFeature = 3;
    private const int OsReleaseFeature = 4;
    private const int VersionFeature = 5;
    private const int ArchFeature = 6;
    private const int NrCpusFeature = 7;
    private const int CompressedFeature = 27;

    private static bool IsFeatureRead(int bit) =>
        bit is TracingDataFeature or HostnameFeature or OsReleaseFeature or VersionFeature or ArchFeature or NrCpusFeature or CompressedFeature;

    /// <summary>Applies one feature's payload (a file's feature section, or a pipe-mode HEADER_FEATURE record after its id).</summary>
    /// <remarks>
    /// Source: tools/perf/util/header.c of Linux 6.18 (<c>write_*</c>/<c>process_*</c> per feature): strings are
    /// <c>u32 len</c> + NUL-padded text; NRCPUS is <c>u32 available, u32 online</c>; COMPRESSED is <c>u32 version,
    /// type (1 = zstd), level, ratio, mmap_len</c>. A feature FastRmp does not use is kept in <see cref="Features"/>
    /// only; a malformed one that FastRmp uses (other than tracing data) is ignored, it changes no record.
    /// </remarks>
    internal void ApplyFeature(int bit, ReadOnlySpan<byte> bytes, long offset)
    {
        if (IsPipe && !_features.Contains(bit))
        {
            _features.Add(bit);
        }

        var o = Order;
        switch (bit)
        {
            case TracingDataFeature:
                SetTracingData(bytes, offset);
                break;
            case HostnameFeature:
                Hostname = HeaderString(bytes, o);
                break;
            case OsReleaseFeature:
                OsRelease = HeaderString(bytes, o);
                break;
            case VersionFeature:
                PerfVersion = HeaderString(bytes, o);
                break;
            case ArchFeature:
                Arch = HeaderString(bytes, o);
                break;
            case NrCpusFeature when bytes.Length >= 8:
                CpuCount = (int)Math.Min(o.U32(bytes, 0), 1u << 16);
                break;
            case CompressedFeature when bytes.Length >= 20:
                uint type = o.U32(bytes, 4);
                Compression = type == 1 ? "zstd" : $"type {type}";
                CompressedMmapLength = o.U32(bytes, 16);
                break;
            default:
                break;
        }
    }

    private static string HeaderString(ReadOnlySpan<byte> bytes, PerfByteOrder o)
    {
        if (bytes.Length < 4)
        {
            return "";
        }

        uint len = o.U32(bytes, 0);
        var text = bytes[4..];
        if (len < (uint)text.Length)
        {
            text = text[..(int)len];
        }

        int nul = text.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? text[..nul] : text);
    }
}
