using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Hardware;

/// <summary>The page size bit of an RMP entry (RMP_PG_SIZE_*).</summary>
public enum RmpPageSize : byte
{
    /// <summary>The entry covers one 4 KiB page.</summary>
    [CName("RMP_PG_SIZE_4K")] Size4K = 0,

    /// <summary>The 2 MiB-aligned entry covers 2 MiB.</summary>
    [CName("RMP_PG_SIZE_2M")] Size2M = 1,
}

/// <summary>RMPUPDATE result in EAX (APM vol. 3; kernel-domain.md 4.4).</summary>
public enum RmpUpdateResult
{
    /// <summary>The entry was written.</summary>
    [CName("RMPUPDATE_SUCCESS")] Success = 0,

    /// <summary>Bad alignment (a 2M update needs a 2 MiB-aligned address) or reserved bits.</summary>
    [CName("RMPUPDATE_FAIL_INPUT")] FailInput = 1,

    /// <summary>The entry is immutable.</summary>
    [CName("RMPUPDATE_FAIL_PERMISSION")] FailPermission = 2,

    /// <summary>The page is in use by hardware (a running vCPU's VMSA).</summary>
    [CName("RMPUPDATE_FAIL_INUSE")] FailInUse = 3,

    /// <summary>A 2M update meets 4K entries in another state; the kernel retries it as transient.</summary>
    [CName("RMPUPDATE_FAIL_OVERLAP")] FailOverlap = 4,
}

/// <summary>PSMASH result in EAX.</summary>
public enum PsmashResult
{
    /// <summary>The 2M entry became 512 4K entries.</summary>
    [CName("PSMASH_SUCCESS")] Success = 0,

    /// <summary>Not 2 MiB-aligned, or not a 2M entry.</summary>
    [CName("PSMASH_FAIL_INPUT")] FailInput = 1,

    /// <summary>The entry is immutable.</summary>
    [CName("PSMASH_FAIL_PERMISSION")] FailPermission = 2,

    /// <summary>Transient conflict; the kernel retries.</summary>
    [CName("PSMASH_FAIL_INUSE")] FailInUse = 3,

    /// <summary>Bad address (early SNP patches only; uncertain in the APM).</summary>
    [CName("PSMASH_FAIL_BADADDR")] FailBadAddr = 4,
}

/// <summary>PVALIDATE result in EAX, with the kernel's software code for CF = 1.</summary>
public enum PvalidateResult
{
    /// <summary>The validated bit was changed.</summary>
    [CName("PVALIDATE_SUCCESS")] Success = 0,

    /// <summary>Bad alignment or reserved bits.</summary>
    [CName("PVALIDATE_FAIL_INPUT")] FailInput = 1,

    /// <summary>The guest does not own the page (ASID or GPA mismatch), or it is not assigned.</summary>
    [CName("PVALIDATE_FAIL_PERMISSION")] FailPermission = 2,

    /// <summary>A 2M PVALIDATE over 4K RMP entries.</summary>
    [CName("PVALIDATE_FAIL_SIZEMISMATCH")] FailSizeMismatch = 6,

    /// <summary>CF = 1: the validated bit already had the requested value (kernel software code).</summary>
    [CName("PVALIDATE_FAIL_NOUPDATE")] FailNoUpdate = 255,
}

/// <summary>RMPADJUST result in EAX.</summary>
public enum RmpAdjustResult
{
    /// <summary>The permissions were changed.</summary>
    [CName("RMPADJUST_SUCCESS")] Success = 0,

    /// <summary>Bad alignment or reserved bits.</summary>
    [CName("RMPADJUST_FAIL_INPUT")] FailInput = 1,

    /// <summary>The caller may not grant these permissions, or does not own the page.</summary>
    [CName("RMPADJUST_FAIL_PERMISSION")] FailPermission = 2,

    /// <summary>A 2M RMPADJUST over 4K RMP entries.</summary>
    [CName("RMPADJUST_FAIL_SIZEMISMATCH")] FailSizeMismatch = 6,
}

/// <summary>RMP table constants (arch/x86/include/asm/sev.h, arch/x86/virt/svm/sev.c; APM vol. 2 15.36). Constants only: thread-safe.</summary>
[CConstants]
public static class RmpConstants
{
    /// <summary>The CPU's bookkeeping area at the start of the RMP; entries start after it.</summary>
    public const ulong RMPTABLE_CPU_BOOKKEEPING_SZ = 0x4000;

    /// <summary>MSR holding the RMP base (bits 51:13).</summary>
    public const uint MSR_AMD64_RMP_BASE = 0xC0010132;

    /// <summary>MSR holding the RMP end.</summary>
    public const uint MSR_AMD64_RMP_END = 0xC0010133;

    /// <summary>RMPADJUST attribute bit that marks the page as a VMSA.</summary>
    public const ulong RMPADJUST_VMSA_PAGE_BIT = 1UL << 16;

    /// <summary>Bytes per RMP entry.</summary>
    public const int EntrySize = 16;
}
