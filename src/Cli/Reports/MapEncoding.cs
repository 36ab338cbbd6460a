using FastRmp.Engine.Reports;

namespace FastRmp.Cli.Reports;

/// <summary>
/// The compact form in which a report embeds a <see cref="HostMemoryMap"/>: base64 of either run-length pairs or
/// packed nibbles, whichever is shorter. report.js decodes both.
/// </summary>
/// <remarks>
/// <code>
/// "rle"      runs in region order; each run one LEB128 varint of (length * 8 + state), length >= 1
/// "nibbles"  two regions per byte, the even region in the low nibble; a last odd region leaves the high nibble 0
/// </code>
/// A map of one state is a few bytes; the worst case (no two neighbours alike) is the nibbles, half a byte per
/// region, so a 1 TiB host (524,288 regions) never takes more than 256 KiB before base64 (342 KiB after).
/// </remarks>
internal static class MapEncoding
{
    /// <summary>The encoding's name and its base64 text.</summary>
    public static (string Encoding, string Base64) Encode(ReadOnlySpan<HostRegionState> regions)
    {
        byte[] packed = Nibbles(regions);
        byte[]? rle = RunLengths(regions, packed.Length);
        return rle is null ? ("nibbles", Convert.ToBase64String(packed)) : ("rle", Convert.ToBase64String(rle));
    }

    /// <summary>Decodes what <see cref="Encode"/> made (for tests and readers of reports).</summary>
    /// <exception cref="FormatException">Malformed data, or a length other than <paramref name="regions"/>.</exception>
    public static HostRegionState[] Decode(string encoding, string base64, int regions)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        var states = new HostRegionState[regions];
        if (encoding == "nibbles")
        {
            if (bytes.Length != (regions + 1) / 2)
            {
                throw new FormatException($"{bytes.Length} bytes of nibbles cannot hold {regions} regions.");
            }

            for (int r = 0; r < regions; r++)
            {
                states[r] = (HostRegionState)((r & 1) == 0 ? bytes[r >> 1] & 15 : bytes[r >> 1] >> 4);
            }

            return states;
        }

        int pos = 0;
        for (int i = 0; i < bytes.Length;)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (i >= bytes.Length || shift > 56)
                {
                    throw new FormatException("A run-length varint is cut short.");
                }

                byte b = bytes[i++];
                value |= (ulong)(b & 127) << shift;
                if (b < 128)
                {
                    break;
                }
            }

            ulong length = value >> 3;
            if (length == 0 || length > (ulong)(regions - pos))
            {
                throw new FormatException($"A run of {length} regions at region {pos} does not fit in {regions}.");
            }

            states.AsSpan(pos, (int)length).Fill((HostRegionState)(value & 7));
            pos += (int)length;
        }

        return pos == regions ? states : throw new FormatException($"The runs cover {pos} regions, not {regions}.");
    }

    private static byte[] Nibbles(ReadOnlySpan<HostRegionState> regions)
    {
        var packed = new byte[(regions.Length + 1) / 2];
        for (int r = 0; r < regions.Length; r++)
        {
            packed[r >> 1] |= (byte)((byte)regions[r] << ((r & 1) * 4));
        }

        return packed;
    }

    // The runs, or null as soon as they would be longer than the nibbles.
    private static byte[]? RunLengths(ReadOnlySpan<HostRegionState> regions, int limit)
    {
        var output = new List<byte>();
        for (int start = 0; start < regions.Length;)
        {
            int end = start + 1;
            while (end < regions.Length && regions[end] == regions[start])
            {
                end++;
            }

            for (ulong value = ((ulong)(end - start) << 3) | (byte)regions[start]; ; value >>= 7)
            {
                output.Add((byte)(value < 128 ? value : (value & 127) | 128));
                if (value < 128)
                {
                    break;
                }
            }

            if (output.Count >= limit)
            {
                return null;
            }

            start = end;
        }

        return [.. output];
    }
}
