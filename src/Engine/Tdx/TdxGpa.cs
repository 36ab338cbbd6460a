namespace FastRmp.Engine.Tdx;

/// <summary>
/// A TD's guest physical addresses: the shared bit is GPA bit 47 with 4-level EPT and bit 51 with 5-level
/// (<c>TDX_SHARED_BIT_PWL_4/5</c>, arch/x86/kvm/vmx/tdx.c, 6.16). KVM traces an EPT violation's GPA with it and names the
/// fault's gfn without it (<c>kvm_gfn_direct_bits</c>).
/// </summary>
internal static class TdxGpa
{
    /// <summary>Either shared bit.</summary>
    public const ulong SharedBits = (1UL << 47) | (1UL << 51);

    /// <summary>Strips the shared bit from <paramref name="gpa"/> (bit 51, else bit 47 below 2^51); true when it was set.</summary>
    public static bool StripSharedBit(ref ulong gpa)
    {
        const ulong Bit51 = 1UL << 51, Bit47 = 1UL << 47;
        ulong bit = (gpa & Bit51) != 0 ? Bit51 : gpa < Bit51 && (gpa & Bit47) != 0 ? Bit47 : 0;
        gpa &= ~bit;
        return bit != 0;
    }
}
