using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>
/// TDX module completion status codes a SEAMCALL or TDCALL returns in RAX (the class in bits 63:32; bits 31:0 carry
/// an operand id, masked off here). Bit 63 set is an error; a nonzero value with bit 63 clear is success with a
/// warning. Values as in the kernel's TDX error header (<c>arch/x86/include/asm/shared/tdx_errno.h</c>, 6.16+;
/// introduced as <c>arch/x86/kvm/vmx/tdx_errno.h</c> by "KVM: TDX: Add TDX "architectural" error codes") and the TDX
/// module ABI specification.
/// </summary>
public enum TdxStatus : ulong
{
    /// <summary>TDX_SUCCESS.</summary>
    [CName("TDX_SUCCESS")] Success = 0,

    /// <summary>TDX_OPERAND_BUSY: another SEAMCALL or TD entry holds the resource (KVM kicks vCPUs and retries).</summary>
    [CName("TDX_OPERAND_BUSY")] OperandBusy = 0x8000_0200_0000_0000,

    /// <summary>TDX_EPT_WALK_FAILED: the Secure EPT has no table down to the requested level.</summary>
    [CName("TDX_EPT_WALK_FAILED")] EptWalkFailed = 0xC000_0B00_0000_0000,

    /// <summary>TDX_EPT_ENTRY_FREE: the entry is free where a mapped one was required.</summary>
    [CName("TDX_EPT_ENTRY_FREE")] EptEntryFree = 0xC000_0B01_0000_0000,

    /// <summary>TDX_EPT_ENTRY_NOT_FREE: the entry is in use where a free one was required.</summary>
    [CName("TDX_EPT_ENTRY_NOT_FREE")] EptEntryNotFree = 0xC000_0B02_0000_0000,

    /// <summary>TDX_EPT_ENTRY_NOT_PRESENT.</summary>
    [CName("TDX_EPT_ENTRY_NOT_PRESENT")] EptEntryNotPresent = 0xC000_0B03_0000_0000,

    /// <summary>TDX_EPT_ENTRY_NOT_LEAF.</summary>
    [CName("TDX_EPT_ENTRY_NOT_LEAF")] EptEntryNotLeaf = 0xC000_0B04_0000_0000,

    /// <summary>TDX_EPT_ENTRY_LEAF.</summary>
    [CName("TDX_EPT_ENTRY_LEAF")] EptEntryLeaf = 0xC000_0B05_0000_0000,

    /// <summary>TDX_GPA_RANGE_NOT_BLOCKED: REMOVE or DEMOTE of a range that was not blocked first.</summary>
    [CName("TDX_GPA_RANGE_NOT_BLOCKED")] GpaRangeNotBlocked = 0xC000_0B06_0000_0000,

    /// <summary>TDX_GPA_RANGE_ALREADY_BLOCKED (a warning).</summary>
    [CName("TDX_GPA_RANGE_ALREADY_BLOCKED")] GpaRangeAlreadyBlocked = 0x0000_0B07_0000_0000,

    /// <summary>TDX_TLB_TRACKING_NOT_DONE: no TDH.MEM.TRACK since the range was blocked.</summary>
    [CName("TDX_TLB_TRACKING_NOT_DONE")] TlbTrackingNotDone = 0xC000_0B08_0000_0000,

    /// <summary>TDX_EPT_INVALID_PROMOTE_CONDITIONS.</summary>
    [CName("TDX_EPT_INVALID_PROMOTE_CONDITIONS")] EptInvalidPromoteConditions = 0xC000_0B09_0000_0000,

    /// <summary>TDX_PAGE_ALREADY_ACCEPTED: TDG.MEM.PAGE.ACCEPT of a page already accepted (a warning).</summary>
    [CName("TDX_PAGE_ALREADY_ACCEPTED")] PageAlreadyAccepted = 0x0000_0B0A_0000_0000,

    /// <summary>TDX_PAGE_SIZE_MISMATCH: TDG.MEM.PAGE.ACCEPT at a size other than the Secure EPT leaf's.</summary>
    [CName("TDX_PAGE_SIZE_MISMATCH")] PageSizeMismatch = 0xC000_0B0B_0000_0000,
}

/// <summary>Helpers over <see cref="TdxStatus"/>.</summary>
public static class TdxStatusExtensions
{
    /// <summary>The status class bits (63:32), as KVM's <c>TDX_SEAMCALL_STATUS_MASK</c> keeps them.</summary>
    public const ulong StatusMask = 0xFFFF_FFFF_0000_0000;

    /// <summary>True when bit 63 (TDX_ERROR) is set.</summary>
    public static bool IsError(this TdxStatus status) => ((ulong)status >> 63) != 0;
}
