/*
 * Kernel entry points. Both end in long_mode_entry with our own GDT, page tables, SSE on, the
 * static IDT and TSS loaded, and then drop to ring 3 to run kmain(protocol, boot_info_address,
 * entry_tsc). Ring 0 keeps only what needs privilege (see supervisor.zig): under nested KVM
 * (PVM) ring-0 code is emulated, ring-3 code runs natively.
 *
 *   pvh_entry     32-bit protected mode, paging off, EBX = hvm_start_info (Xen PVH note).
 *                 QEMU microvm and Firecracker >= 1.12 enter here.
 *   linux64_entry 64-bit long mode on the VMM's 1 GiB identity map, RSI = zero page.
 *                 Firecracker enters here when it does not use the PVH note (e_entry).
 *
 * The very first instruction of each reads the TSC, so boot phases are timed from entry.
 *
 * Page tables are complete before CR3 is loaded, in pages that hold nothing else: under
 * shadow-paging hypervisors every later write to a live page-table page is trapped.
 */

#define BOOT_PROTOCOL_PVH     1
#define BOOT_PROTOCOL_LINUX64 2

#define PAGE_PRESENT   0x001
#define PAGE_WRITE     0x002
#define PAGE_USER      0x004
#define PAGE_PWT       0x008
#define PAGE_PCD       0x010
#define PAGE_LARGE     0x080

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_NE (1 << 5)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE        (1 << 5)
#define CR4_OSFXSR     (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

#define SELECTOR_CODE 0x08
#define SELECTOR_DATA 0x10
#define SELECTOR_USER_DATA (0x18 + 3)
#define SELECTOR_USER_CODE (0x20 + 3)
#define SELECTOR_TSS  0x28
#define GDT_TSS_OFFSET 0x28

/* 2 MiB pages from 3 GiB upwards are device memory: uncached. */
#define PD_ENTRIES 2048
#define PD_FIRST_MMIO_ENTRY 1536

/*
 * The page directories and the first page table are static data (see .data.page_tables below):
 * filling 2560 entries at run time costs milliseconds when ring 0 is emulated. Only the PML4
 * and PDPT entries, which hold link-time addresses, are written here. Uses 32-bit registers and
 * absolute addresses only, so it assembles and runs the same in 32-bit and 64-bit mode.
 *   boot_pml4[0]    -> boot_pdpt
 *   boot_pdpt[0..3] -> boot_pd + i * 4 KiB   (4 x 1 GiB)
 */
/*
 * The TSS descriptor's base is split over three fields, which the assembler cannot express for
 * a relocated symbol; fill them here, before lgdt (the TSS is below 4 GiB).
 */
.macro LINK_TSS_DESCRIPTOR
    movl $boot_tss, %eax
    movw %ax, boot_gdt + GDT_TSS_OFFSET + 2
    shrl $16, %eax
    movb %al, boot_gdt + GDT_TSS_OFFSET + 4
    movb %ah, boot_gdt + GDT_TSS_OFFSET + 7
.endm

/*
 * kvmclock gives the TSC frequency, the time since VM creation and the wall clock. Enabling it is
 * an MSR write,
 * which needs ring 0: done here rather than through a supervisor call from kmain (one round
 * trip costs ~0.1 ms under nested KVM). Only when CPUID says KVM with kvmclock (MSR 0x4b564d01):
 * an unknown MSR would fault. kvmclock.zig reads the page from ring 3.
 */
.macro ENABLE_KVMCLOCK
    movl $1, %eax
    cpuid
    btl $31, %ecx              /* Hypervisor present. */
    jnc 9f
    movl $0x40000000, %eax
    cpuid
    cmpl $0x4b4d564b, %ebx     /* "KVMKVMKVM\0\0\0" */
    jne 9f
    cmpl $0x564b4d56, %ecx
    jne 9f
    cmpl $0x0000004d, %edx
    jne 9f
    cmpl $0x40000001, %eax
    jb 9f
    movl $0x40000001, %eax
    cpuid
    btl $3, %eax               /* KVM_FEATURE_CLOCKSOURCE2 */
    jnc 9f
    movl $0x4b564d01, %ecx
    movl $kvmclock_time_info, %eax
    orl $1, %eax               /* Enable. */
    xorl %edx, %edx
    wrmsr
    /* MSR_KVM_WALL_CLOCK_NEW (same feature bit): KVM writes the wall-clock time at which
       kvmclock's system time was 0 into kvmclock_wall_clock, once, now. */
    movl $0x4b564d00, %ecx
    movl $kvmclock_wall_clock, %eax
    xorl %edx, %edx
    wrmsr
    movl $1, kvmclock_enabled
9:
.endm

.macro LINK_PAGE_TABLES
    movl $(boot_pdpt + PAGE_PRESENT + PAGE_WRITE + PAGE_USER), boot_pml4
    movl $(boot_pd + 0x0000 + PAGE_PRESENT + PAGE_WRITE + PAGE_USER), boot_pdpt + 0
    movl $(boot_pd + 0x1000 + PAGE_PRESENT + PAGE_WRITE + PAGE_USER), boot_pdpt + 8
    movl $(boot_pd + 0x2000 + PAGE_PRESENT + PAGE_WRITE + PAGE_USER), boot_pdpt + 16
    movl $(boot_pd + 0x3000 + PAGE_PRESENT + PAGE_WRITE + PAGE_USER), boot_pdpt + 24
.endm

/* The Xen PVH entry note: the only PT_NOTE of the image (Firecracker takes the last one). */
.section .note.Xen, "a", @note
.balign 4
.long 4                 /* namesz: "Xen\0" */
.long 4                 /* descsz: a 32-bit physical entry address */
.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
.asciz "Xen"
.long pvh_entry

.section .text.boot, "ax", @progbits

.code32
.global pvh_entry
.type pvh_entry, @function
pvh_entry:
    rdtsc
    movl %eax, boot_entry_tsc
    movl %edx, boot_entry_tsc + 4
    movl %ebx, boot_info_address
    movl $BOOT_PROTOCOL_PVH, boot_protocol

    /* QEMU's GDT lives in option-ROM memory; use ours from here on. */
    LINK_TSS_DESCRIPTOR
    lgdt boot_gdt_pointer
    movw $SELECTOR_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss

    LINK_PAGE_TABLES

    movl %cr4, %eax
    orl $(CR4_PAE + CR4_OSFXSR + CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    andl $~(CR0_EM + CR0_CD + CR0_NW), %eax
    orl $(CR0_PG + CR0_PE + CR0_MP + CR0_NE), %eax
    movl %eax, %cr0
    ljmp $SELECTOR_CODE, $long_mode_entry
.size pvh_entry, . - pvh_entry

.code64
.global linux64_entry
.type linux64_entry, @function
linux64_entry:
    rdtsc
    movl %eax, boot_entry_tsc
    movl %edx, boot_entry_tsc + 4
    movq %rsi, boot_info_address
    movl $BOOT_PROTOCOL_LINUX64, boot_protocol

    LINK_TSS_DESCRIPTOR
    lgdt boot_gdt_pointer
    LINK_PAGE_TABLES

    movq %cr4, %rax
    orq $(CR4_PAE + CR4_OSFXSR + CR4_OSXMMEXCPT), %rax
    movq %rax, %cr4
    movq $boot_pml4, %rax
    movq %rax, %cr3
    movq %cr0, %rax
    andq $~(CR0_EM + CR0_CD + CR0_NW), %rax
    orq $(CR0_MP + CR0_NE), %rax
    movq %rax, %cr0
    /* Reload CS from our GDT with a far return. */
    pushq $SELECTOR_CODE
    pushq $long_mode_entry
    lretq
.size linux64_entry, . - linux64_entry

.type long_mode_entry, @function
long_mode_entry:
    movw $SELECTOR_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq supervisor_stack_top_pointer, %rsp  /* Defined in stacks.zig. */
    lidt boot_idt_pointer      /* Static, in interrupts.S. */
    movw $SELECTOR_TSS, %ax
    ltr %ax
    ENABLE_KVMCLOCK
    /*
     * No fninit/ldmxcsr: both VMMs reset FCW to 0x37f and MXCSR to 0x1f80 already, and nested
     * KVM (PVM) emulates the instructions after a privileged one in a batch whose emulator
     * lacks them ("INTERNAL_ERROR in batch emul"). Keep this path to plain instructions.
     */
    /* Drop to ring 3: kmain runs on the boot stack with interrupts off (for now). */
    movl boot_protocol, %edi
    movq boot_info_address, %rsi
    movq boot_entry_tsc, %rdx
    xorq %rbp, %rbp            /* Ends every backtrace. */
    pushq $SELECTOR_USER_DATA
    pushq boot_stack_top_pointer
    pushq $0x2                 /* RFLAGS: IF=0. */
    pushq $SELECTOR_USER_CODE
    pushq $kmain_trampoline
    iretq
.size long_mode_entry, . - long_mode_entry

/* kmain never returns; the return address slot keeps the stack 16-byte aligned per the ABI. */
.type kmain_trampoline, @function
kmain_trampoline:
    movw $SELECTOR_USER_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    call kmain
    ud2
.size kmain_trampoline, . - kmain_trampoline

.section .data.boot, "aw", @progbits
.balign 16
/*
 * 0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code (this order suits
 * syscall/sysret), 0x28 TSS: limit 103, type 0x89 (available 64-bit TSS); the base is linked
 * at entry (LINK_TSS_DESCRIPTOR).
 */
.global boot_gdt
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00cff2000000ffff
    .quad 0x00affa000000ffff
    .quad 0x0000890000000067
    .quad 0
boot_gdt_end:
.balign 8
.global boot_gdt_pointer
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
.balign 8
.global boot_entry_tsc
boot_entry_tsc:     .quad 0
boot_info_address:  .quad 0
boot_protocol:      .long 0

/*
 * Page tables, in pages that hold nothing else. The PML4 and PDPT are linked at entry; the
 * directories are data:
 *   boot_pd[i]   = i * 2 MiB, large page, uncached from 3 GiB (device memory)
 *   boot_pd[0]  -> boot_pt0, the first 2 MiB in 4 KiB pages
 *   boot_pt0[i]  = i * 4 KiB, except page 0: not present, so null dereferences fault
 */
.section .bss.page_tables, "aw", @nobits
.balign 4096
.global boot_pml4
boot_pml4: .skip 4096
boot_pdpt: .skip 4096

.section .data.page_tables, "aw", @progbits
.balign 4096
.global boot_pd
boot_pd:
    .quad boot_pt0 + PAGE_PRESENT + PAGE_WRITE + PAGE_USER
    .set entry, 1
    .rept PD_ENTRIES - 1
    .if entry < PD_FIRST_MMIO_ENTRY
    .quad (entry << 21) + PAGE_PRESENT + PAGE_WRITE + PAGE_USER + PAGE_LARGE
    .else
    .quad (entry << 21) + PAGE_PRESENT + PAGE_WRITE + PAGE_USER + PAGE_LARGE + PAGE_PCD + PAGE_PWT
    .endif
    .set entry, entry + 1
    .endr
boot_pt0:
    .quad 0
    .set entry, 1
    .rept 511
    .quad (entry << 12) + PAGE_PRESENT + PAGE_WRITE + PAGE_USER
    .set entry, entry + 1
    .endr
