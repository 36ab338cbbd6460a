namespace FastRmp.Interop.Uapi;

/// <summary>
/// Linux errno values that the modelled ioctls return (include/uapi/asm-generic/errno-base.h, errno.h). Model calls
/// return these as results, as the ioctls do, instead of throwing.
/// </summary>
public enum Errno
{
    /// <summary>Success.</summary>
    Ok = 0,

    /// <summary>No such entry.</summary>
    ENOENT = 2,

    /// <summary>Interrupted.</summary>
    EINTR = 4,

    /// <summary>I/O error (gmem: binding mismatch in get_pfn).</summary>
    EIO = 5,

    /// <summary>Bad file descriptor.</summary>
    EBADF = 9,

    /// <summary>Try again.</summary>
    EAGAIN = 11,

    /// <summary>Out of memory.</summary>
    ENOMEM = 12,

    /// <summary>Permission denied (a userspace fault on a private guest_memfd page: SIGBUS).</summary>
    EACCES = 13,

    /// <summary>Bad address (memory-fault exits return this).</summary>
    EFAULT = 14,

    /// <summary>Exists (overlapping memslot).</summary>
    EEXIST = 17,

    /// <summary>No such device.</summary>
    ENODEV = 19,

    /// <summary>Invalid argument.</summary>
    EINVAL = 22,

    /// <summary>Inappropriate ioctl (KVM_SET_MEMORY_ATTRIBUTES2 without in-place conversion).</summary>
    ENOTTY = 25,

    /// <summary>No space left (no free memslot).</summary>
    ENOSPC = 28,

    /// <summary>Operation not supported (fallocate modes).</summary>
    EOPNOTSUPP = 95,

    /// <summary>Memory page has hardware error.</summary>
    EHWPOISON = 133,
}
