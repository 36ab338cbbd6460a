namespace FastRmp.Interop.Uapi;

/// <summary>fallocate modes guest_memfd accepts (include/uapi/linux/falloc.h).</summary>
[Flags]
public enum FallocateMode
{
    /// <summary>Allocate and extend (guest_memfd refuses it: EOPNOTSUPP).</summary>
    None = 0,

    /// <summary>FALLOC_FL_KEEP_SIZE.</summary>
    KeepSize = 0x01,

    /// <summary>FALLOC_FL_PUNCH_HOLE (needs KEEP_SIZE).</summary>
    PunchHole = 0x02,
}
