using System.Text;

namespace FastRmp.Fuzz;

/// <summary>
/// The in-process mutator of the bounded run (no coverage feedback; scripts/fuzz.sh runs libFuzzer for that): bit
/// flips, random and interesting values (little-endian and as hex or decimal text), truncation, deletion, duplication,
/// splicing two seeds. Deterministic for a given <see cref="Random"/>.
/// </summary>
public static class Mutator
{
    private static readonly ulong[] s_interesting =
    [
        0, 1, 2, 8, 0x7F, 0x80, 0xFF, 0xFFF, 0x1000, 0xFFFF, 0x10000, 0x1FFFFF, 0x200000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
        0x100000000, 0xFFFFFFFFFFFF, 0xFFFFFFFFFFFF000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFF000, 0xFFFFFFFFFFFFFFFF,
    ];

    /// <summary>Returns a mutant of <paramref name="seed"/> (1 to 8 edits), sometimes spliced with <paramref name="other"/>.</summary>
    public static byte[] Mutate(byte[] seed, byte[] other, Random rng)
    {
        var b = new List<byte>(seed);
        int edits = 1 + rng.Next(rng.Next(2) == 0 ? 2 : 8);
        for (int e = 0; e < edits; e++)
        {
            int at = b.Count == 0 ? 0 : rng.Next(b.Count);
            switch (rng.Next(10))
            {
                case 0 when b.Count > 0:
                    b[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1 when b.Count > 0:
                    b[at] = (byte)rng.Next(256);
                    break;
                case 2:
                    ulong v = s_interesting[rng.Next(s_interesting.Length)];
                    int width = 1 << rng.Next(4);
                    for (int k = 0; k < width && at + k < b.Count; k++)
                    {
                        b[at + k] = (byte)(v >> (8 * k));
                    }

                    break;
                case 3:
                    // a number in text: replace the token at a hex or decimal digit run
                    ulong t = s_interesting[rng.Next(s_interesting.Length)];
                    ReplaceNumber(b, at, rng.Next(2) == 0 ? $"0x{t:x}" : $"{t}");
                    break;
                case 4 when b.Count > 0:
                    b.RemoveRange(at, b.Count - at); // truncation
                    break;
                case 5 when b.Count > 0:
                    b.RemoveRange(at, Math.Min(1 + rng.Next(64), b.Count - at));
                    break;
                case 6 when b.Count > 0:
                    int from = rng.Next(b.Count);
                    int n = Math.Min(1 + rng.Next(256), b.Count - from);
                    b.InsertRange(at, b.GetRange(from, n));
                    break;
                case 7 when other.Length > 0:
                    int start = rng.Next(other.Length);
                    int len = Math.Min(1 + rng.Next(4096), other.Length - start);
                    b.InsertRange(at, other.AsSpan(start, len).ToArray());
                    break;
                case 8:
                    b.InsertRange(at, Encoding.ASCII.GetBytes(s_tokens[rng.Next(s_tokens.Length)]));
                    break;
                default:
                    if (b.Count > 4)
                    {
                        // a size field at its limit: four or eight 0xff bytes
                        int w = rng.Next(2) == 0 ? 4 : 8;
                        for (int k = 0; k < w && at + k < b.Count; k++)
                        {
                            b[at + k] = 0xFF;
                        }
                    }

                    break;
            }
        }

        return [.. b];
    }

    private static readonly string[] s_tokens =
    [
        "\n", " ", ":", "=", "0x", "[000]", " -- ", "\n\n", "\0", "\r\n", "level 4", "size=0xffffffffffff000", "pfn ffffffffffffffff",
        "gfn ffffffffffffffff ", "len 0xffffffffffff000", "to_private", "to_shared", "ret=-1", "guest_memfd=-1", "\"0x\"", "{}", "[", "]",
    ];

    private static void ReplaceNumber(List<byte> b, int at, string number)
    {
        int start = at;
        while (start < b.Count && !IsDigit(b[start]))
        {
            start++;
        }

        int end = start;
        while (end < b.Count && (IsDigit(b[end]) || b[end] is (byte)'x' or >= (byte)'a' and <= (byte)'f'))
        {
            end++;
        }

        b.RemoveRange(start, end - start);
        b.InsertRange(start, Encoding.ASCII.GetBytes(number));
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';
}
