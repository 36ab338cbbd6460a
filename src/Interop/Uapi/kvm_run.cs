using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Uapi;

/// <summary>
/// The <c>memory_fault</c> member of <c>kvm_run</c>'s exit union (KVM_EXIT_MEMORY_FAULT, 6.8+): 24 bytes at
/// <c>kvm_run</c> offset 32.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
public struct kvm_run_memory_fault : ICMirror<kvm_run_memory_fault>
{
    /// <summary><see cref="KvmUapi.KVM_MEMORY_EXIT_FLAG_PRIVATE"/> when the faulting access was private.</summary>
    [FieldOffset(0)] public ulong flags;

    /// <summary>The faulting gpa (x86: gfn &lt;&lt; 12).</summary>
    [FieldOffset(8)] public ulong gpa;

    /// <summary>Bytes (x86: 4096).</summary>
    [FieldOffset(16)] public ulong size;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_run_memory_fault s = default;
        return new MirrorLayoutBuilder<kvm_run_memory_fault>(ref s, "kvm_run_memory_fault", "kvm_run.memory_fault", "include/uapi/linux/kvm.h, torvalds v6.8, line 467 (6.8 and later)")
            .Field(ref s.flags, "flags", "__u64")
            .Field(ref s.gpa, "gpa", "__u64")
            .Field(ref s.size, "size", "__u64")
            .Build();
    }
}

/// <summary>
/// The <c>hypercall</c> member of <c>kvm_run</c>'s exit union (KVM_EXIT_HYPERCALL): 72 bytes at <c>kvm_run</c>
/// offset 32. SNP page-state changes and KVM_HC_MAP_GPA_RANGE arrive here (kernel-domain.md 3.4, 4.7).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
public struct kvm_run_hypercall : ICMirror<kvm_run_hypercall>
{
    /// <summary>Hypercall number (<see cref="KvmUapi.KVM_HC_MAP_GPA_RANGE"/>).</summary>
    [FieldOffset(0)] public ulong nr;

    /// <summary>Arguments; for MAP_GPA_RANGE: gpa, npages, attributes.</summary>
    [FieldOffset(8)] public FixedArray6<ulong> args;

    /// <summary>Return value set by userspace.</summary>
    [FieldOffset(56)] public ulong ret;

    /// <summary>Union of <c>__u32 longmode</c> (old) and <c>__u64 flags</c>.</summary>
    [FieldOffset(64)] public ulong flags;

    /// <summary>The old <c>longmode</c> view of the last union.</summary>
    public readonly uint longmode => (uint)flags;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_run_hypercall s = default;
        return new MirrorLayoutBuilder<kvm_run_hypercall>(ref s, "kvm_run_hypercall", "kvm_run.hypercall", "include/uapi/linux/kvm.h, torvalds v6.8, line 293")
            .Field(ref s.nr, "nr", "__u64")
            .Field(ref s.args, "args", "__u64[6]")
            .Field(ref s.ret, "ret", "__u64")
            .Field(ref s.flags, "flags", "__u64")
            .Build();
    }
}

/// <summary>
/// The fixed header of <c>struct kvm_run</c> and its 256-byte exit union (include/uapi/linux/kvm.h): the first 288
/// bytes of the mmap'ed run area. The sync-register area that follows is not mirrored.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 288)]
public struct kvm_run : ICMirror<kvm_run>
{
    /// <summary>In: request an interrupt window exit.</summary>
    [FieldOffset(0)] public byte request_interrupt_window;

    /// <summary>In: exit immediately.</summary>
    [FieldOffset(1)] public byte immediate_exit;

    /// <summary>Padding.</summary>
    [FieldOffset(2)] public FixedArray6<byte> padding1;

    /// <summary>Out: <see cref="KvmExitReason"/>.</summary>
    [FieldOffset(8)] public uint exit_reason;

    /// <summary>Out.</summary>
    [FieldOffset(12)] public byte ready_for_interrupt_injection;

    /// <summary>Out.</summary>
    [FieldOffset(13)] public byte if_flag;

    /// <summary>Out.</summary>
    [FieldOffset(14)] public ushort flags;

    /// <summary>In/out: CR8.</summary>
    [FieldOffset(16)] public ulong cr8;

    /// <summary>Out: APIC base MSR.</summary>
    [FieldOffset(24)] public ulong apic_base;

    [FieldOffset(32)] private FixedBytes256 _exit;

    /// <summary>The exit payload for KVM_EXIT_MEMORY_FAULT.</summary>
    [UnscopedRef]
    public ref kvm_run_memory_fault memory_fault => ref Unsafe.As<FixedBytes256, kvm_run_memory_fault>(ref _exit);

    /// <summary>The exit payload for KVM_EXIT_HYPERCALL.</summary>
    [UnscopedRef]
    public ref kvm_run_hypercall hypercall => ref Unsafe.As<FixedBytes256, kvm_run_hypercall>(ref _exit);

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        kvm_run s = default;
        return new MirrorLayoutBuilder<kvm_run>(ref s, "kvm_run", "kvm_run", "include/uapi/linux/kvm.h, torvalds v6.8, line 228 (header and exit union)")
            .Field(ref s.request_interrupt_window, "request_interrupt_window", "__u8")
            .Field(ref s.immediate_exit, "immediate_exit", "__u8")
            .Field(ref s.padding1, "padding1", "__u8[6]")
            .Field(ref s.exit_reason, "exit_reason", "__u32")
            .Field(ref s.ready_for_interrupt_injection, "ready_for_interrupt_injection", "__u8")
            .Field(ref s.if_flag, "if_flag", "__u8")
            .Field(ref s.flags, "flags", "__u16")
            .Field(ref s.cr8, "cr8", "__u64")
            .Field(ref s.apic_base, "apic_base", "__u64")
            .Field(ref s.memory_fault.flags, "memory_fault.flags", "__u64")
            .Field(ref s.memory_fault.gpa, "memory_fault.gpa", "__u64")
            .Field(ref s.memory_fault.size, "memory_fault.size", "__u64")
            .Build();
    }
}
