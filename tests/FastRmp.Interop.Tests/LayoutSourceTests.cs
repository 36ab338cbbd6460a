using System.Text.RegularExpressions;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Tests;

/// <summary>
/// Every mirror names where its layout was read: an upstream release tag of torvalds/linux, the file and the line of
/// the definition (<c>FILE, torvalds vX.Y, line N</c>, optionally followed by a note in parentheses). Forks and bare
/// commit hashes are not citations: a tag can be checked by anyone, a fork's commit may vanish or differ from upstream.
/// </summary>
public sealed partial class LayoutSourceTests
{
    [GeneratedRegex(@"^(?<file>(?:arch|include)/[a-z0-9_/-]+\.[ch]), torvalds v(?<tag>[1-9][0-9]*\.[0-9]+), line (?<line>[1-9][0-9]*)(?: \((?<note>[^()]+)\))?$")]
    private static partial Regex SourcePattern();

    public static TheoryData<string> MirrorNames()
    {
        var data = new TheoryData<string>();
        foreach (var layout in KernelLayouts.All)
        {
            data.Add(layout.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MirrorNames))]
    public void The_source_cites_a_torvalds_tag_a_file_and_a_line(string name)
    {
        var layout = KernelLayouts.All.Single(l => l.Name == name);
        var match = SourcePattern().Match(layout.Summary);
        Assert.True(match.Success, $"{name}: '{layout.Summary}' is not 'FILE, torvalds vX.Y, line N[ (note)]'.");
        Assert.DoesNotContain("@", layout.Summary, StringComparison.Ordinal);

        var tag = KernelVersion.Parse(match.Groups["tag"].Value);
        Assert.True(KernelLayouts.IsKnown(tag), $"{name}: v{tag} is outside the kernels FastRmp knows.");
    }

    [Theory]
    [InlineData("kvm_page_fault_v6_7", "6.7")]
    [InlineData("kvm_page_fault_v6_8", "6.8")]
    [InlineData("kvm_page_fault_v6_10", "6.10")]
    [InlineData("kvm_page_fault_v6_13", "6.13")]
    public void Each_page_fault_generation_cites_the_tag_it_is_named_after(string name, string tag)
    {
        var match = SourcePattern().Match(KernelLayouts.All.Single(l => l.Name == name).Summary);
        Assert.True(match.Success);
        Assert.Equal("arch/x86/kvm/mmu/mmu_internal.h", match.Groups["file"].Value);
        Assert.Equal(tag, match.Groups["tag"].Value);
    }

    [Theory]
    [InlineData("arch/x86/kvm/mmu/mmu_internal.h, 6.10-6.12 (alvinsun039@08972138)")]
    [InlineData("arch/x86/kvm/mmu/mmu_internal.h, 6.8-6.9 (torvalds@89ea60c2)")]
    [InlineData("arch/x86/kvm/mmu/mmu_internal.h, torvalds v6.10")]
    [InlineData("arch/x86/kvm/mmu/mmu_internal.h, Kingxukai v6.13, line 190")]
    [InlineData("include/uapi/linux/kvm.h")]
    public void Fork_hash_and_lineless_citations_do_not_match(string summary)
        => Assert.DoesNotMatch(SourcePattern(), summary);
}
