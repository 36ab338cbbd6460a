/* tiny-vm: creates a KVM VM with one 64 KiB memslot and one vCPU in real mode, runs a few instructions
 * (out to port 0x10 a few times, touches a page, hlt) so that `perf record -e 'kvm:*' -e 'kvmmmu:*'` sees real
 * kvm_entry/kvm_exit/kvm_pio/kvm_page_fault records. Build: gcc -O2 -o tiny-vm tiny-vm.c. Needs /dev/kvm.
 * Written for FastRmp's perf.data tests; uses only the documented KVM API (Documentation/virt/kvm/api.rst). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

int main(int argc, char **argv)
{
    int loops = argc > 1 ? atoi(argv[1]) : 4;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    size_t size = 0x10000;
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) die("mmap");
    /* Real-mode code at 0x1000:
     *   mov cx, loops ; l: mov al, cl ; out 0x10, al ; mov [0x3000+...], al (touch another page) ; loop l ; hlt */
    const uint8_t code[] = {
        0xb9, (uint8_t)loops, 0x00,       /* mov cx, loops */
        0x88, 0xc8,                       /* l: mov al, cl */
        0xe6, 0x10,                       /* out 0x10, al */
        0xa2, 0x00, 0x30,                 /* mov [0x3000], al */
        0xa2, 0x00, 0x50,                 /* mov [0x5000], al */
        0xe2, 0xf4,                       /* loop l */
        0xf4,                             /* hlt */
    };
    memcpy(mem + 0x1000, code, sizeof code);
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = size, .userspace_addr = (uint64_t)(uintptr_t)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    sregs.cs.base = 0; sregs.cs.selector = 0;
    sregs.ds.base = 0; sregs.ds.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
    for (int i = 0; i < 1000; i++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO) {
            uint8_t v = *((uint8_t *)run + run->io.data_offset);
            printf("out 0x%x <- %u\n", run->io.port, v);
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT) { printf("hlt\n"); return 0; }
        fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
        return 2;
    }
    return 3;
}
