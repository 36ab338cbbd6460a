using FastRmp.Engine.Allocation;
using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Gmem;

/// <summary>
/// A VM's guest_memfd files: KVM_CREATE_GUEST_MEMFD, the fd table, and the binding side of memslots.
/// </summary>
/// <remarks>
/// Models <c>kvm_gmem_create</c> (virt/kvm/guest_memfd.c, 6.18): EINVAL for flags outside the supported mask, a
/// size that is zero or not page-aligned, or non-zero reserved words. For SNP VMs INIT_SHARED is not supported
/// (<c>kvm_arch_supports_gmem_init_shared</c>). Not thread-safe.
/// </remarks>
public sealed class GmemFiles : IGmemBindings, IDisposable
{
    private readonly Dictionary<int, GuestMemfd> _byFd = [];
    private int _nextFd = 3;
    private GuestMemfd? _last; // the file the last ByFileId found: every fault asks, almost always for the same file
    private bool _disposed;

    /// <summary>Creates the registry.</summary>
    public GmemFiles(IFolioAllocator allocator, int folioOrder = 0, GuestMemfdFlags supportedFlags = GuestMemfdFlags.Mmap)
    {
        if (folioOrder is not (0 or 9 or 18))
        {
            throw new ArgumentOutOfRangeException(nameof(folioOrder), folioOrder, "Folio orders are 0 (4 KiB), 9 (2 MiB) or 18 (1 GiB).");
        }

        Allocator = allocator;
        FolioOrder = folioOrder;
        SupportedFlags = supportedFlags;
    }

    /// <summary>The host page allocator folios come from.</summary>
    public IFolioAllocator Allocator { get; }

    /// <summary>The order of new folios.</summary>
    public int FolioOrder { get; }

    /// <summary>KVM_CAP_GUEST_MEMFD_FLAGS.</summary>
    public GuestMemfdFlags SupportedFlags { get; }

    /// <summary>The arch hooks (the policy), if any.</summary>
    public IGmemArch? Arch { get; set; }

    /// <summary>The VM side of invalidations, if any.</summary>
    public IGmemMmu? Mmu { get; set; }

    /// <summary>The kernel whose guest_memfd the files follow (in-place conversion, populate rules).</summary>
    public Kvm.KvmKernel Kernel { get; init; } = Kvm.KvmKernel.Default;

    /// <summary>
    /// The host's RMPOPT summary (null: the host has none), told of the host writes guest_memfd makes: get_pfn zeroing a
    /// folio that is not up to date (docs/rmpopt.md).
    /// </summary>
    public Rmp.RmpOptSummary? RmpOpt { get; set; }

    /// <summary>When get_pfn calls <see cref="IGmemArch.Prepare"/>.</summary>
    public GmemPrepareMode PrepareMode { get; set; } = GmemPrepareMode.OncePerFolio;

    /// <summary>Open files.</summary>
    public IEnumerable<GuestMemfd> Files => _byFd.Values;

    /// <summary>Models KVM_CREATE_GUEST_MEMFD; on success <paramref name="fd"/> is the new file's descriptor.</summary>
    /// <exception cref="ObjectDisposedException">The registry was disposed.</exception>
    public Errno Create(in kvm_create_guest_memfd request, out int fd)
    {
        if (_disposed)
        {
            throw Memory.Disposal.Exception(this);
        }

        fd = -1;
        var flags = (GuestMemfdFlags)request.flags;
        foreach (ulong word in request.reserved)
        {
            if (word != 0)
            {
                return Errno.EINVAL;
            }
        }

        if ((flags & ~SupportedFlags) != 0 || request.size == 0 || (request.size & Interop.PageSize.Mask4K) != 0
            || ((flags & GuestMemfdFlags.InitShared) != 0 && (flags & GuestMemfdFlags.Mmap) == 0))
        {
            return Errno.EINVAL;
        }

        fd = _nextFd++;
        _byFd.Add(fd, new GuestMemfd(this, fd, request.size, flags, FolioOrder));
        return Errno.Ok;
    }

    /// <summary>The open file with descriptor <paramref name="fd"/>.</summary>
    public GuestMemfd? Get(int fd) => _byFd.TryGetValue(fd, out var file) ? file : null;

    /// <summary>The file whose <see cref="GuestMemfd.FileId"/> a memslot stores.</summary>
    public GuestMemfd? ByFileId(ulong file)
    {
        var last = _last;
        if (last is not null && last.FileId == file)
        {
            return last;
        }

        last = file == 0 ? null : Get((int)(file - 1));
        _last = last;
        return last;
    }

    /// <summary>Closes a file (release).</summary>
    public Errno Close(int fd)
    {
        if (!_byFd.Remove(fd, out var file))
        {
            return Errno.EBADF;
        }

        _last = null;
        file.Dispose();
        if (_byFd.Count == 0 && LastFileClosed is { } last)
        {
            LastFileClosed = null;
            last();
        }

        return Errno.Ok;
    }

    /// <summary>Called once when the last open file is closed (the VM whose fd is already closed goes with it).</summary>
    public Action? LastFileClosed { get; set; }

    /// <inheritdoc />
    public Errno Bind(uint fd, ulong offset, ulong npages, int slot, gfn_t baseGfn, out ulong file)
    {
        file = 0;
        if (!_byFd.TryGetValue((int)fd, out var gmem))
        {
            return Errno.EBADF;
        }

        var error = gmem.Bind(offset, npages, slot, baseGfn);
        if (error == Errno.Ok)
        {
            file = gmem.FileId;
        }

        return error;
    }

    /// <inheritdoc />
    public void Unbind(ulong file, ulong pgoff, ulong npages) => ByFileId(file)?.Unbind(pgoff);

    /// <summary>Releases and disposes every open file.</summary>
    /// <remarks>
    /// Each file is released as close would (<see cref="GuestMemfd.Dispose"/>: zap, folios back to the allocator) and
    /// its page cache freed; the fd table is emptied. Later calls do nothing; afterwards <see cref="Create"/> throws
    /// <see cref="ObjectDisposedException"/>, and lookups find no file. The allocator is not disposed (the registry
    /// does not own it).
    /// </remarks>
    public void Dispose()
    {
        _disposed = true;
        foreach (var file in _byFd.Values)
        {
            file.Dispose();
        }

        _byFd.Clear();
        _last = null;
    }

    /// <summary>Frees every file's memory without modelling the releases (see <see cref="GuestMemfd.Discard"/>).</summary>
    /// <remarks>Afterwards the registry is disposed (see <see cref="Dispose"/>).</remarks>
    public void Discard()
    {
        _disposed = true;
        foreach (var file in _byFd.Values)
        {
            file.Discard();
        }

        _byFd.Clear();
        _last = null;
    }
}
