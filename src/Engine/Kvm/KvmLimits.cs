namespace FastRmp.Engine.Kvm;

/// <summary>x86 KVM limits the memslot model enforces (arch/x86/include/asm/kvm_host.h, include/linux/kvm_host.h). Constants only: thread-safe.</summary>
public static class KvmLimits
{
    /// <summary>KVM_ADDRESS_SPACE_NUM on x86: normal and SMM.</summary>
    public const int AddressSpaces = 2;

    /// <summary>KVM_USER_MEM_SLOTS on x86 (KVM_MEM_SLOTS_NUM 32767 minus the 3 private slots).</summary>
    public const int UserMemslots = 32764;

    /// <summary>KVM_MEM_MAX_NR_PAGES: (1 &lt;&lt; 31) - 1 pages per slot.</summary>
    public const ulong MaxSlotPages = (1UL << 31) - 1;
}
