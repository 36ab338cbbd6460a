using FastRmp.Interop;
using FastRmp.Interop.Uapi;

namespace FastRmp.Engine.Gmem;

/// <summary>The guest_memfd side of a memslot with KVM_MEM_GUEST_MEMFD: binding and unbinding file ranges.</summary>
public interface IGmemBindings
{
    /// <summary>
    /// Models <c>kvm_gmem_bind</c> (virt/kvm/guest_memfd.c, 6.8-6.18): binds pages [offset, offset + npages * 4K) of
    /// guest_memfd <paramref name="fd"/> to memslot <paramref name="slot"/>. EBADF when fd is not open, EINVAL when
    /// it is not a guest_memfd of this VM, the offset is not page-aligned, the range runs past the file's size, or
    /// it overlaps an existing binding of the same file.
    /// </summary>
    /// <param name="fd">The file descriptor from the region.</param>
    /// <param name="offset">guest_memfd_offset in bytes.</param>
    /// <param name="npages">Pages in the slot.</param>
    /// <param name="slot">The memslot's index in its <c>Memslots</c>.</param>
    /// <param name="baseGfn">The slot's first gfn (<c>slot-&gt;base_gfn</c>), kept with the binding.</param>
    /// <param name="file">A non-zero value identifying the file, stored in <c>kvm_memory_slot.gmem.file</c>.</param>
    Errno Bind(uint fd, ulong offset, ulong npages, int slot, gfn_t baseGfn, out ulong file);

    /// <summary>Models <c>kvm_gmem_unbind</c>: removes the binding of a deleted slot.</summary>
    void Unbind(ulong file, ulong pgoff, ulong npages);
}
