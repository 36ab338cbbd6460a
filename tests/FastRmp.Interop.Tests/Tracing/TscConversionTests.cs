using FastRmp.Interop.Tracing;

namespace FastRmp.Interop.Tests.Tracing;

/// <summary>The TSC2NSEC conversion of trace.dat timestamps: (tsc * mult) &gt;&gt; shift in 128-bit arithmetic (trace-cmd's tsc2nsec option, traces.md).</summary>
public class TscConversionTests
{
    [Theory]
    [InlineData(0UL, 0UL, 0, 0UL)]
    [InlineData(1000UL, 3UL, 1, 1500UL)]
    [InlineData(ulong.MaxValue, 2UL, 1, ulong.MaxValue)] // the product's 65th bit comes back with the shift
    [InlineData(ulong.MaxValue, ulong.MaxValue, 64, ulong.MaxValue - 1)] // (2^64-1)^2 >> 64 = 2^64 - 2
    [InlineData(1UL << 63, 4UL, 65, 1UL)]
    [InlineData(5UL, 7UL, 128, 35UL)] // UInt128 shifts count mod 128
    public void MulShift_matches_hand_worked_products(ulong value, ulong mult, int shift, ulong expected)
        => Assert.Equal(expected, TraceDatReader.MulShift(value, mult, shift));

    [Fact]
    public void MulShift_equals_UInt128_arithmetic_for_every_shift()
    {
        var rng = new Random(11);
        for (int i = 0; i < 20_000; i++)
        {
            ulong value = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40);
            ulong mult = (ulong)rng.NextInt64() >> rng.Next(64);
            int shift = rng.Next(130);
            Assert.Equal((ulong)(((UInt128)value * mult) >> shift), TraceDatReader.MulShift(value, mult, shift));
        }
    }
}
