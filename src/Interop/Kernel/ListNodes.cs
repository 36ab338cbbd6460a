using System.Runtime.InteropServices;
using FastRmp.Interop.Layout;

namespace FastRmp.Interop.Kernel;

/// <summary>
/// <c>struct hlist_node</c> (include/linux/types.h), x86-64: two pointers, 16 bytes. Pointers are kept as 64-bit
/// values because a mirror may hold memory from another host.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct hlist_node : ICMirror<hlist_node>
{
    /// <summary><c>struct hlist_node *next</c>.</summary>
    [FieldOffset(0)] public ulong next;

    /// <summary><c>struct hlist_node **pprev</c>.</summary>
    [FieldOffset(8)] public ulong pprev;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        hlist_node s = default;
        return new MirrorLayoutBuilder<hlist_node>(ref s, "hlist_node", "hlist_node", "include/linux/types.h, torvalds v6.8, line 201")
            .Field(ref s.next, "next", "struct hlist_node *")
            .Field(ref s.pprev, "pprev", "struct hlist_node **")
            .Build();
    }
}

/// <summary><c>struct rb_node</c> (include/linux/rbtree_types.h), x86-64: 24 bytes, 8-byte aligned.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
public struct rb_node : ICMirror<rb_node>
{
    /// <summary>Parent pointer with the node colour in bit 0.</summary>
    [FieldOffset(0)] public ulong __rb_parent_color;

    /// <summary><c>struct rb_node *rb_right</c>.</summary>
    [FieldOffset(8)] public ulong rb_right;

    /// <summary><c>struct rb_node *rb_left</c>.</summary>
    [FieldOffset(16)] public ulong rb_left;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        rb_node s = default;
        return new MirrorLayoutBuilder<rb_node>(ref s, "rb_node", "rb_node", "include/linux/rbtree_types.h, torvalds v6.8, line 5")
            .Field(ref s.__rb_parent_color, "__rb_parent_color", "unsigned long")
            .Field(ref s.rb_right, "rb_right", "struct rb_node *")
            .Field(ref s.rb_left, "rb_left", "struct rb_node *")
            .Build();
    }
}

/// <summary><c>struct interval_tree_node</c> (include/linux/interval_tree.h), x86-64: 48 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct interval_tree_node : ICMirror<interval_tree_node>
{
    /// <summary>The tree linkage.</summary>
    [FieldOffset(0)] public rb_node rb;

    /// <summary>First value of the interval.</summary>
    [FieldOffset(24)] public ulong start;

    /// <summary>Last value of the interval (inclusive).</summary>
    [FieldOffset(32)] public ulong last;

    /// <summary>Largest <c>last</c> in the subtree.</summary>
    [FieldOffset(40)] public ulong __subtree_last;

    /// <inheritdoc />
    public static MirrorLayout Layout { get; } = Describe();

    private static MirrorLayout Describe()
    {
        interval_tree_node s = default;
        return new MirrorLayoutBuilder<interval_tree_node>(ref s, "interval_tree_node", "interval_tree_node", "include/linux/interval_tree.h, torvalds v6.8, line 7")
            .Field(ref s.rb, "rb", "struct rb_node")
            .Field(ref s.start, "start", "unsigned long")
            .Field(ref s.last, "last", "unsigned long")
            .Field(ref s.__subtree_last, "__subtree_last", "unsigned long")
            .Build();
    }
}
