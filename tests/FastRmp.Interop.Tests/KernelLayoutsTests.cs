using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Tests;

/// <summary>Version -> layout selection (kernel-domain.md section 0, 1.2 and 2.4).</summary>
public sealed class KernelLayoutsTests
{
    [Theory]
    [InlineData("6.6", KvmPageFaultGeneration.V6_7)]
    [InlineData("6.7.12", KvmPageFaultGeneration.V6_7)]
    [InlineData("6.8.0-49-generic", KvmPageFaultGeneration.V6_8)]
    [InlineData("6.9", KvmPageFaultGeneration.V6_8)]
    [InlineData("6.10-rc1", KvmPageFaultGeneration.V6_10)]
    [InlineData("6.12.3", KvmPageFaultGeneration.V6_10)]
    [InlineData("6.13", KvmPageFaultGeneration.V6_13)]
    [InlineData("6.18.1", KvmPageFaultGeneration.V6_13)]
    [InlineData("7.0", KvmPageFaultGeneration.V6_13)]
    public void Each_version_gets_its_page_fault_generation(string version, KvmPageFaultGeneration expected)
        => Assert.Equal(expected, KernelLayouts.PageFaultGeneration(KernelVersion.Parse(version)));

    [Theory]
    [InlineData("6.12.3", 80, 26)]
    [InlineData("6.9", 80, 22)]
    [InlineData("6.7", 72, 21)]
    public void The_chosen_page_fault_layout_has_the_documented_size_and_max_level(string version, int size, int maxLevel)
    {
        var layout = KernelLayouts.PageFault(KernelVersion.Parse(version));
        Assert.Equal(size, layout.Size);
        Assert.Equal(maxLevel, layout.FindField("max_level")!.Offset);
    }

    [Theory]
    [InlineData("6.7", GmemBlock.Default, 264)]
    [InlineData("6.8", GmemBlock.Default, 264)]
    [InlineData("6.8", GmemBlock.Present, 280)]
    [InlineData("6.12", GmemBlock.Default, 280)]
    [InlineData("6.12", GmemBlock.Absent, 264)]
    [InlineData("6.18", GmemBlock.Default, 280)]
    public void The_memory_slot_has_the_gmem_block_where_the_config_puts_it(string version, GmemBlock config, int size)
        => Assert.Equal(size, KernelLayouts.MemorySlot(KernelVersion.Parse(version), config).Size);

    [Fact]
    public void A_6_18_kernel_cannot_be_built_without_the_gmem_block()
        => Assert.Throws<ArgumentException>(() => KernelLayouts.MemorySlot(new KernelVersion(6, 18), GmemBlock.Absent));

    [Theory]
    [InlineData("5.15")]
    [InlineData("6.5.9")]
    [InlineData("7.1")]
    public void Versions_outside_the_known_range_are_refused(string version)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => KernelLayouts.For(KernelVersion.Parse(version)));
        Assert.Contains(version, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_gets_one_layout_of_each_struct_and_no_gmem_uapi_before_6_8()
    {
        var modern = KernelLayouts.For(new KernelVersion(6, 12, 3));
        Assert.Single(modern, l => l.CName == "kvm_page_fault");
        Assert.Single(modern, l => l.CName == "kvm_memory_slot");
        Assert.Contains(modern, l => l.Name == "kvm_userspace_memory_region2");

        var old = KernelLayouts.For(new KernelVersion(6, 6));
        Assert.DoesNotContain(old, l => l.Name == "kvm_userspace_memory_region2");
        Assert.Contains(old, l => l.Name == "kvm_userspace_memory_region");
    }

    [Theory]
    [InlineData("6.12.3", 6, 12, 3)]
    [InlineData(" 6.8.0-49-generic ", 6, 8, 0)]
    [InlineData("6.13-rc1", 6, 13, 0)]
    [InlineData("6.1+", 6, 1, 0)]
    public void Versions_parse(string text, int major, int minor, int patch)
        => Assert.Equal(new KernelVersion(major, minor, patch), KernelVersion.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("6")]
    [InlineData("six.one")]
    [InlineData("6.1.2.3")]
    [InlineData("-6.1")]
    [InlineData("6..1")]
    public void Non_versions_do_not_parse(string text)
    {
        Assert.False(KernelVersion.TryParse(text, out _));
        Assert.Throws<FormatException>(() => KernelVersion.Parse(text));
    }
}
