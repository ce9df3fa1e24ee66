/*
 * fc_shim: reproduces Firecracker's "Linux 64-bit boot" entry under QEMU microvm.
 *
 * QEMU boots this shim through its Xen PVH note (32-bit protected mode, paging off,
 * EBX = hvm_start_info). The shim then does what Firecracker + rust-vmm linux-loader do
 * when an ELF is booted without using its PVH note:
 *   1. load the raw kernel ELF that `-device loader,...,addr=0x4000000,force-raw=on` put at
 *      64 MiB: every PT_LOAD with p_filesz > 0 goes to p_paddr (rest zeroed up to p_memsz);
 *   2. write the zero page (struct boot_params) at 0x7000, the command line at 0x20000,
 *      the GDT at 0x500, the IDT at 0x520, and page tables at 0x9000/0xa000/0xb000
 *      (identity map of 0-1 GiB with 2 MiB pages);
 *   3. enter e_entry in long mode with Firecracker's register state:
 *      CR0 = 0xe0000011 (KVM reset value CD|NW|ET, plus PE|PG), CR3 = 0x9000, CR4 = PAE,
 *      EFER = LME|LMA, CS = 0x08, DS/ES/FS/GS/SS = 0x10, TR = 0x18, IDT limit 7 (one zero
 *      entry: any exception triple-faults), RFLAGS = 0x2, RSI = 0x7000, RSP = RBP = 0x8ff0,
 *      every other GPR 0. SSE stays off (CR4.OSFXSR clear).
 * Nothing is printed on success. On failure one line "fc_shim: ..." goes to COM1 and the
 * shim exits through isa-debug-exit (outb 0x7e -> port 0xf4: QEMU exit status 253).
 *
 * Firecracker's interrupt wiring, on both entry paths (FIRECRACKER_INTERRUPT_WIRING below):
 * Firecracker runs KVM's in-kernel 8259 PIC unprogrammed (vector base 0, IMR 0) and sets the
 * LAPIC's LINT0 to ExtINT and LINT1 to NMI (vmm/src/arch/x86_64/interrupts.rs, set_lint), so a
 * device line below 16 reaches the CPU as vectors 0-15, which look like CPU exceptions. QEMU
 * 7.2 leaves LINT0 masked, and its virtio devices honour VIRTQ_AVAIL_F_NO_INTERRUPT where
 * Firecracker's interrupt anyway: so the shim sets LINT0/LINT1 as Firecracker does and starts
 * the PIT (IRQ 0) as a rate generator at ~1 kHz, a stand-in for Firecracker's disk-completion
 * IRQs that keeps a PIC interrupt pending whenever the kernel enables interrupts. The QEMU
 * machine needs pic=on,pit=on (qemuArgs' legacyInterrupts option).
 *
 * Built with -DSHIM_IOAPIC_VECTOR=N (fc_shim_ioapic.elf), the shim also routes the PIT's IOAPIC
 * pins to vector N, unmasked: an interrupt no driver claims, arriving even with the PIC masked
 * (the kernel must count it and go on). N = 40: a device vector; N = 17: #AC's vector, where a
 * device interrupt pushes no error code but the exception does (the kernel must tell them apart
 * and return through the shorter frame).
 *
 * Built with -DSHIM_PVH (fc_shim_pvh.elf), the shim reproduces Firecracker's PVH entry instead:
 * it sets up the interrupt wiring, finds the kernel's XEN_ELFNOTE_PHYS32_ENTRY in the raw ELF
 * at 0x4000000 and jumps there in 32-bit protected mode with QEMU's own PVH state (EBX =
 * hvm_start_info); the kernel's segments are loaded by a second `-device loader,file=ELF`
 * (ELF mode, to p_paddr).
 *
 * How: 32-bit entry -> long mode on the shim's own page tables (0-128 MiB, user-accessible)
 * -> the loader runs at CPL 3 and only writes memory (steps 1 and 2) -> ud2 back to CPL 0
 * -> CR3, GDT, TR, IDT, CR0 and registers as Firecracker sets them -> jmp e_entry.
 * Under the nested "PVM" KVM on the dev machine, CPL-0 guest code is run by an instruction
 * emulator (~0.5 us per instruction or rep iteration, no SSE/x87), CPL-3 code natively: the
 * loader takes ~25 ms at CPL 0 and well under 1 ms at CPL 3. So: integer instructions only,
 * and as little as possible at CPL 0. Timing aid: shim_tsc = {TSC at entry, TSC at exit}.
 */

#define START_INFO_MAGIC   0x336ec578
#define SI_CMDLINE_PADDR   0x18
#define SI_MEMMAP_PADDR    0x28
#define SI_MEMMAP_ENTRIES  0x30

#define ELF_FILE           0x4000000    /* where -device loader put the raw kernel ELF */
#define ELF_FILE_WINDOW    0x2000000    /* the file must fit in 32 MiB */
#define LOAD_LIMIT         0x2000000    /* segments must end below the shim (32 MiB) */
#define HIMEM_START        0x100000

#define FC_GDT             0x500
#define FC_IDT             0x520
#define FC_ZERO_PAGE       0x7000
#define FC_STACK           0x8ff0
#define FC_PML4            0x9000
#define FC_PDPT            0xa000
#define FC_PD              0xb000
#define FC_CMDLINE         0x20000
#define FC_CMDLINE_MAX     2048         /* bytes, including the NUL */
#define FC_RSDP            0xe0000
#define E820_MAX           128
#define FC_MMCONFIG        0xeec00000
#define FC_MMCONFIG_SIZE   0x10000000

#define ZP_ACPI_RSDP       0x070
#define ZP_E820_ENTRIES    0x1e8
#define ZP_BOOT_FLAG       0x1fe
#define ZP_HEADER          0x202
#define ZP_TYPE_OF_LOADER  0x210
#define ZP_CMD_LINE_PTR    0x228
#define ZP_KERNEL_ALIGN    0x230
#define ZP_CMDLINE_SIZE    0x238
#define ZP_E820_TABLE      0x2d0

#define MSR_EFER           0xc0000080
#define EFER_LME           0x100
#define CR4_PAE            0x20
#define CR0_BOOT32         0x80000011   /* PG|ET|PE, to reach long mode */
#define CR0_FIRECRACKER    0xe0000011   /* KVM reset CR0 (CD|NW|ET) | PE | PG */

#define SHIM_PD_ENTRIES    64           /* the shim's own map: 0-128 MiB */
#define SHIM_MAP_BYTES     (SHIM_PD_ENTRIES * 0x200000)
#define SHIM_IDT_VECTORS   32

#define LAPIC_SPURIOUS     0xfee000f0
#define LAPIC_LVT_LINT0    0xfee00350
#define LAPIC_LVT_LINT1    0xfee00360
#define SPURIOUS_ENABLE    0x1ff        /* APIC software-enabled, spurious vector 0xff */
#define LVT_EXTINT         0x700
#define LVT_NMI            0x400
#define PIT_COMMAND        0x43
#define PIT_CHANNEL0       0x40
#define PIT_RATE_GENERATOR 0x34         /* channel 0, low then high byte, mode 2, binary */
#define PIT_COUNT_1KHZ     1193         /* 1.193182 MHz / 1193 = ~1000 Hz */
#define IOAPIC_SELECT      0xfec00000
#define IOAPIC_WINDOW      0xfec00010
#define IOAPIC_REDIRECTION_PIN0 0x10
#define IOAPIC_REDIRECTION_PIN2 0x14
#define XEN_PHYS32_ENTRY   18
#define PT_NOTE            4

#define COM1               0x3f8
#define DEBUG_EXIT_PORT    0xf4
#define DEBUG_EXIT_FAIL    0x7e

/* ---- The Xen PVH note: the shim's only PT_NOTE ------------------------------------------ */
.section .note.Xen, "a", @note
.balign 4
.long 4                 /* namesz */
.long 4                 /* descsz */
.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
.asciz "Xen"
.long pvh_entry

/*
 * LINT0 = ExtINT, LINT1 = NMI (Firecracker's set_lint); PIT channel 0 ticking at ~1 kHz.
 * Firecracker sets the LVTs with KVM_SET_LAPIC; a guest write to an LVT while the APIC is
 * software-disabled (SVR bit 8 clear, the reset state) keeps the mask bit set (KVM and the
 * SDM), so the APIC is software-enabled first. It stays enabled: disabling it again would mask
 * every LVT. The kernel programs the SVR itself before it enables interrupts.
 */
.macro FIRECRACKER_INTERRUPT_WIRING
    movl $SPURIOUS_ENABLE, LAPIC_SPURIOUS
    movl $LVT_EXTINT, LAPIC_LVT_LINT0
    movl $LVT_NMI, LAPIC_LVT_LINT1
    movb $PIT_RATE_GENERATOR, %al
    outb %al, $PIT_COMMAND
    movb $(PIT_COUNT_1KHZ & 0xff), %al
    outb %al, $PIT_CHANNEL0
    movb $(PIT_COUNT_1KHZ >> 8), %al
    outb %al, $PIT_CHANNEL0
#ifdef SHIM_IOAPIC_VECTOR
    /*
     * The PIT's IOAPIC pin -> SHIM_IOAPIC_VECTOR on APIC 0, edge, unmasked: pin 2 where QEMU's
     * IOAPIC takes ISA IRQ 0, pin 0 where KVM's irqchip does (its default GSI routing).
     */
    movl $(IOAPIC_REDIRECTION_PIN0 + 1), IOAPIC_SELECT
    movl $0, IOAPIC_WINDOW
    movl $IOAPIC_REDIRECTION_PIN0, IOAPIC_SELECT
    movl $SHIM_IOAPIC_VECTOR, IOAPIC_WINDOW
    movl $(IOAPIC_REDIRECTION_PIN2 + 1), IOAPIC_SELECT
    movl $0, IOAPIC_WINDOW
    movl $IOAPIC_REDIRECTION_PIN2, IOAPIC_SELECT
    movl $SHIM_IOAPIC_VECTOR, IOAPIC_WINDOW
#endif
.endm

/* ---- 32-bit entry ------------------------------------------------------------------------ */
.section .text.entry, "ax", @progbits
.code32
.global pvh_entry
.type pvh_entry, @function
pvh_entry:
    rdtsc                               /* timing aid: shim_tsc[0] = entry, [1] = exit */
    movl %eax, shim_tsc
    movl %edx, shim_tsc + 4
    cli
    cld
    FIRECRACKER_INTERRUPT_WIRING
#ifdef SHIM_PVH
    jmp pvh_kernel
#endif
    /* QEMU's GDT lives in option-ROM memory: switch to ours at once. */
    lgdt shim_gdt_pointer32
    ljmp $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $shim_stack_top, %esp
    movl %ebx, start_info_pointer

    /*
     * The shim's own page tables: 0-128 MiB in 2 MiB pages, user-accessible, so the loader can
     * run at CPL 3 (see "loader" below). The tables are in the shim's bss (zeroed by QEMU).
     */
    movl $(shim_pdpt + 0x07), shim_pml4
    movl $(shim_pd + 0x07), shim_pdpt
    movl $shim_pd, %edi
    movl $0x87, %eax
    movl $SHIM_PD_ENTRIES, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    decl %ecx
    jnz 2b

    /* Long mode: CR4 = PAE, EFER = LME, CR0 = PE|ET|PG. */
    movl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $shim_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl $EFER_LME, %eax
    xorl %edx, %edx
    wrmsr
    movl $CR0_BOOT32, %eax
    movl %eax, %cr0
    ljmp $0x18, $long_mode
.size pvh_entry, . - pvh_entry

#ifdef SHIM_PVH
/*
 * ---- PVH mode: enter the kernel's PVH entry with QEMU's state --------------------------------
 * 32-bit, paging off, EBX = hvm_start_info untouched. Scans the program headers of the raw ELF
 * at ELF_FILE for PT_NOTEs and those for the Xen PHYS32_ENTRY note (name "Xen"); every loop is
 * bounded by the header counts and the 32 MiB file window.
 */
.type pvh_kernel, @function
pvh_kernel:
    movl %ebx, start_info_pointer
    movl $ELF_FILE, %esi
    cmpl $0x464c457f, (%esi)
    jne pvh_fail
    movl 0x20(%esi), %ebp               /* e_phoff (low half; the file is < 32 MiB) */
    cmpl $ELF_FILE_WINDOW, %ebp
    jae pvh_fail
    addl %esi, %ebp                     /* -> first program header */
    movzwl 0x38(%esi), %ecx             /* e_phnum */
1:  testl %ecx, %ecx
    jz pvh_fail
    cmpl $PT_NOTE, (%ebp)
    jne 4f
    movl 0x08(%ebp), %edi               /* p_offset */
    movl 0x20(%ebp), %edx               /* p_filesz */
    cmpl $ELF_FILE_WINDOW, %edi
    jae pvh_fail
    cmpl $ELF_FILE_WINDOW, %edx
    jae pvh_fail
    addl %esi, %edi                     /* -> first note */
    addl %edi, %edx                     /* -> end of the notes */
2:  leal 20(%edi), %eax                 /* a Xen PHYS32_ENTRY note is 20 bytes */
    cmpl %edx, %eax
    ja 4f
    cmpl $4, (%edi)                     /* namesz: "Xen\0" */
    jne 3f
    cmpl $XEN_PHYS32_ENTRY, 8(%edi)
    jne 3f
    cmpl $0x006e6558, 12(%edi)          /* "Xen\0" */
    jne 3f
    movl 16(%edi), %eax
    movl start_info_pointer, %ebx       /* hvm_start_info, as QEMU left it */
    jmp *%eax
3:  movl (%edi), %eax                   /* next note: 12 + namesz + descsz, each 4-aligned */
    addl $3, %eax
    andl $~3, %eax
    movl 4(%edi), %ebx
    addl $3, %ebx
    andl $~3, %ebx
    leal 12(%edi, %eax), %edi
    addl %ebx, %edi
    cmpl %edx, %edi
    jb 2b
4:  addl $56, %ebp
    decl %ecx
    jmp 1b
pvh_fail:
    movl $pvh_fail_message, %esi
pvh_fail_next_byte:
    lodsb
    testb %al, %al
    jz 6f
    movw $COM1, %dx
    outb %al, %dx
    jmp pvh_fail_next_byte
6:  movb $DEBUG_EXIT_FAIL, %al
    outb %al, $DEBUG_EXIT_PORT
7:  hlt
    jmp 7b
.size pvh_kernel, . - pvh_kernel
.section .rodata
pvh_fail_message:
    .asciz "fc_shim: no Xen PVH entry note in the ELF at 0x4000000 (missing -device loader,file=ukernel.elf,addr=0x4000000,force-raw=on?)\n"
.previous
#endif

/* ---- 64-bit, CPL 0: drop to the CPL-3 loader ----------------------------------------------- */
.code64
.type long_mode, @function
long_mode:
    /* TSS (RSP0 = shim stack) for the way back from CPL 3: patch its base into the GDT. */
    leaq shim_tss(%rip), %rax
    movw %ax, shim_gdt + 0x32(%rip)
    shrl $16, %eax
    movb %al, shim_gdt + 0x34(%rip)
    movb %ah, shim_gdt + 0x37(%rip)
    movw $0x30, %ax
    ltr %ax
    /*
     * IDT: vectors 0-31 all go to loader_trap (the loader's final ud2 raises #UD; anything
     * else is a shim bug). Every gate is the same: build its low 8 bytes once, store 32 times
     * (the high 8 bytes, offset bits 32-63, stay zero).
     */
    leaq loader_trap(%rip), %rax
    movq %rax, %rdx
    andl $0xffff, %eax                  /* offset 0-15 */
    orq $(0x18 << 16), %rax             /* selector: 64-bit code */
    shrq $16, %rdx                      /* offset 16-31 -> bits 48-63 */
    shlq $48, %rdx
    orq %rdx, %rax
    movabsq $0x00008e0000000000, %rdx   /* present, 64-bit interrupt gate */
    orq %rdx, %rax
    leaq shim_idt(%rip), %rdi
    movl $SHIM_IDT_VECTORS, %ecx
3:  movq %rax, (%rdi)
    addq $16, %rdi
    decl %ecx
    jnz 3b
    lidt shim_idt_pointer(%rip)

    movl start_info_pointer(%rip), %ebx
    pushq $0x23                         /* SS: user data */
    pushq $loader_stack_top
    pushq $0x2                          /* RFLAGS: IF = 0, IOPL = 0 */
    pushq $0x2b                         /* CS: user 64-bit code */
    pushq $loader
    iretq
.size long_mode, . - long_mode

/*
 * ---- The loader, at CPL 3 (native speed under PVM; see the top) ---------------------------
 * Writes memory only. Ends with ud2 (#UD -> loader_trap at CPL 0) with RSI = 0 on success or
 * the failure message.
 * In: RBX = hvm_start_info.
 */
.type loader, @function
loader:
    /* The loader sees only the shim's 0-128 MiB map: check QEMU's pointers against it. */
    cmpq $(SHIM_MAP_BYTES - 56), %rbx
    ja fail_start_info_address
    cmpl $START_INFO_MAGIC, (%rbx)
    jne fail_start_info
    cmpq $(SHIM_MAP_BYTES - FC_CMDLINE_MAX), SI_CMDLINE_PADDR(%rbx)
    ja fail_start_info_address
    movl SI_MEMMAP_ENTRIES(%rbx), %eax
    imulq $24, %rax
    addq SI_MEMMAP_PADDR(%rbx), %rax
    jc fail_start_info_address
    cmpq $SHIM_MAP_BYTES, %rax
    ja fail_start_info_address

    /* --- ELF header checks (rust-vmm linux-loader elf::load) --- */
    movl $ELF_FILE, %r12d
    cmpl $0x464c457f, (%r12)
    jne fail_magic
    cmpb $1, 5(%r12)                    /* EI_DATA == ELFDATA2LSB */
    jne fail_data
    cmpw $56, 0x36(%r12)                /* e_phentsize == sizeof(Elf64_Phdr) */
    jne fail_phentsize
    movq 0x20(%r12), %r13               /* e_phoff */
    cmpq $64, %r13
    jb fail_phoff
    movq 0x18(%r12), %rax               /* e_entry */
    cmpq $HIMEM_START, %rax
    jb fail_entry
    movq %rax, kernel_entry(%rip)
    movzwl 0x38(%r12), %r15d            /* e_phnum */
    imulq $56, %r15, %rax
    addq %r13, %rax
    jc fail_phdrs
    cmpq $ELF_FILE_WINDOW, %rax
    ja fail_phdrs

    /* --- PT_LOAD segments: p_filesz bytes from p_offset to p_paddr, zero to p_memsz --- */
    leaq (%r12, %r13), %rbp
    testl %r15d, %r15d
    jz segments_done
segment:
    cmpl $1, (%rbp)                     /* PT_LOAD */
    jne segment_next
    movq 0x20(%rbp), %rcx               /* p_filesz */
    testq %rcx, %rcx
    jz segment_next                     /* skipped entirely, as in linux-loader */
    movq 0x08(%rbp), %rsi               /* p_offset */
    movq 0x18(%rbp), %rdi               /* p_paddr */
    movq 0x28(%rbp), %rdx               /* p_memsz */
    movq %rsi, %rax
    addq %rcx, %rax
    jc fail_segment_file
    cmpq $ELF_FILE_WINDOW, %rax
    ja fail_segment_file
    cmpq $HIMEM_START, %rdi
    jb fail_segment_low
    cmpq %rcx, %rdx                     /* bytes to zero after the copy */
    jae 3f
    movq %rcx, %rdx
3:  subq %rcx, %rdx
    movq %rdi, %rax
    addq %rcx, %rax
    jc fail_segment_high
    addq %rdx, %rax
    jc fail_segment_high
    cmpq $LOAD_LIMIT, %rax
    ja fail_segment_high
    addq %r12, %rsi
    movq %rcx, %r8
    shrq $3, %rcx
    rep movsq
    movl %r8d, %ecx
    andl $7, %ecx
    rep movsb
    xorl %eax, %eax
    movq %rdx, %rcx
    shrq $3, %rcx
    rep stosq
    movl %edx, %ecx
    andl $7, %ecx
    rep stosb
segment_next:
    addq $56, %rbp
    decl %r15d
    jnz segment
segments_done:

    /* --- Zero page (configure_64bit_boot): all zero except the fields below --- */
    movl $FC_ZERO_PAGE, %edi
    xorl %eax, %eax
    movl $(4096 / 8), %ecx
    rep stosq
    movb $0xff, FC_ZERO_PAGE + ZP_TYPE_OF_LOADER
    movw $0xaa55, FC_ZERO_PAGE + ZP_BOOT_FLAG
    movl $0x53726448, FC_ZERO_PAGE + ZP_HEADER
    movl $FC_CMDLINE, FC_ZERO_PAGE + ZP_CMD_LINE_PTR
    movl $0x01000000, FC_ZERO_PAGE + ZP_KERNEL_ALIGN
    movq $FC_RSDP, FC_ZERO_PAGE + ZP_ACPI_RSDP

    /* --- Command line -> 0x20000, NUL-terminated; cmdline_size counts the NUL --- */
    movq SI_CMDLINE_PADDR(%rbx), %rsi
    movl $FC_CMDLINE, %edi
    xorl %ecx, %ecx
    testq %rsi, %rsi
    jz 5f
4:  movb (%rsi, %rcx), %al
    testb %al, %al
    jz 5f
    cmpl $(FC_CMDLINE_MAX - 1), %ecx
    jae fail_cmdline
    movb %al, (%rdi, %rcx)
    incl %ecx
    jmp 4b
5:  movb $0, (%rdi, %rcx)
    incl %ecx
    movl %ecx, FC_ZERO_PAGE + ZP_CMDLINE_SIZE

    /*
     * --- e820 from QEMU's PVH memmap, in Firecracker's unsorted order (configure_64bit_boot):
     *   pass 0: every entry except RAM at or above 1 MiB, in QEMU's order (low RAM
     *           [0, 0x9fc00), then the reserved ranges);
     *   then    FC >= 1.13's reserved PCI MMCONFIG range [0xeec00000, +256 MiB);
     *   pass 1: the RAM at or above 1 MiB, last.
     * So the list is unsorted under every accelerator. Empty entries (size 0 or type 0, such
     * as QEMU's trailing all-zero one) are skipped.
     */
    movq SI_MEMMAP_PADDR(%rbx), %r9
    movl SI_MEMMAP_ENTRIES(%rbx), %r10d
    testq %r9, %r9
    jz fail_memmap
    testl %r10d, %r10d
    jz fail_memmap
    movl $(FC_ZERO_PAGE + ZP_E820_TABLE), %edi
    xorl %r8d, %r8d                     /* e820 entries written */
    xorl %r11d, %r11d                   /* pass: 0 = all but high RAM, 1 = high RAM */
e820_pass:
    movq %r9, %rsi
    movl %r10d, %ecx
    testl %ecx, %ecx
    jz e820_pass_done
e820_entry:
    movq 8(%rsi), %rdx                  /* size */
    movl 16(%rsi), %eax                 /* type */
    testq %rdx, %rdx
    jz e820_next
    testl %eax, %eax
    jz e820_next
    xorl %edx, %edx                     /* 1 if RAM at or above 1 MiB */
    cmpl $1, %eax
    jne 6f
    cmpq $HIMEM_START, (%rsi)
    jb 6f
    movl $1, %edx
6:  cmpl %r11d, %edx
    jne e820_next
    cmpl $E820_MAX, %r8d
    jae fail_memmap_big
    movq (%rsi), %rdx
    movq %rdx, (%rdi)
    movq 8(%rsi), %rdx
    movq %rdx, 8(%rdi)
    movl %eax, 16(%rdi)
    addq $20, %rdi
    incl %r8d
e820_next:
    addq $24, %rsi
    decl %ecx
    jnz e820_entry
e820_pass_done:
    testl %r11d, %r11d
    jnz 7f
    /* Firecracker >= 1.13 reserves PCI MMCONFIG [0xeec00000, +256 MiB) before the DRAM. */
    cmpl $E820_MAX, %r8d
    jae fail_memmap_big
    movl $FC_MMCONFIG, (%rdi)           /* above 2 GiB: no sign-extended movq imm32 */
    movl $0, 4(%rdi)
    movq $FC_MMCONFIG_SIZE, 8(%rdi)
    movl $2, 16(%rdi)
    addq $20, %rdi
    incl %r8d
7:  incl %r11d
    cmpl $2, %r11d
    jb e820_pass
    movb %r8b, FC_ZERO_PAGE + ZP_E820_ENTRIES

    /* --- Firecracker's page tables: PML4 0x9000 -> PDPT 0xa000 -> PD 0xb000, 512 x 2 MiB --- */
    movl $FC_PML4, %edi
    xorl %eax, %eax
    movl $(3 * 4096 / 8), %ecx
    rep stosq
    movl $(FC_PDPT | 0x03), FC_PML4
    movl $(FC_PD | 0x03), FC_PDPT
    movl $FC_PD, %edi
    movl $0x83, %eax
    movl $512, %ecx
2:  movq %rax, (%rdi)
    addq $0x200000, %rax
    addq $8, %rdi
    decl %ecx
    jnz 2b

    /*
     * --- GDT at 0x500 (limit 31): null, code 0xa09b, data 0xc093, TSS 0x808b, as FC's
     * gdt_entry(flags, 0, 0xfffff). The TSS is written *available* (0x89) here: CPL 0 loads
     * TR = 0x18 through a temporary limit-39 GDT (a 64-bit TSS descriptor is 16 bytes) and
     * ltr marks it busy, which leaves exactly FC's 0x808b entry. The descriptor's upper half
     * at 0x520 is zero, and so is the IDT's single entry that then lives there.
     */
    movq $0, FC_GDT
    movabsq $0x00af9b000000ffff, %rax
    movq %rax, FC_GDT + 0x08
    movabsq $0x00cf93000000ffff, %rax
    movq %rax, FC_GDT + 0x10
    movabsq $0x008f89000000ffff, %rax
    movq %rax, FC_GDT + 0x18
    movq $0, FC_IDT
    movq $0, FC_IDT + 8

    xorl %esi, %esi
loader_exit:
    ud2                                 /* back to CPL 0 (`int n` from CPL 3 faults under PVM) */
.size loader, . - loader

/* ---- 64-bit, CPL 0 again: Firecracker's CPU state, then the kernel ------------------------- */
.type loader_trap, @function
loader_trap:
    /* The interrupt frame starts with RIP, or with an error code and then RIP. */
    leaq loader_exit(%rip), %rax
    cmpq %rax, (%rsp)
    je 1f
    cmpq %rax, 8(%rsp)
    je 1f
    leaq loader_exception_message(%rip), %rsi
1:  movl $shim_stack_top, %esp          /* drop the interrupt frame */
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    testq %rsi, %rsi
    jnz fail
    lgdt gdt_pointer_tss(%rip)
    movw $0x18, %ax
    ltr %ax
    lgdt gdt_pointer_fc(%rip)
    lidt idt_pointer_fc(%rip)
    movl $FC_PML4, %eax                 /* complete before it goes live */
    movq %rax, %cr3
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    pushq $0x08
    leaq enter_kernel(%rip), %rax
    pushq %rax
    lretq
.size loader_trap, . - loader_trap

.type enter_kernel, @function
enter_kernel:
    movl $CR0_FIRECRACKER, %eax
    movq %rax, %cr0
    rdtsc
    movl %eax, shim_tsc + 8(%rip)
    movl %edx, shim_tsc + 12(%rip)
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %edi, %edi
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    /* RFLAGS last (the xors set ZF/PF); the movs below leave it alone. */
    pushq $0x2
    popfq
    movl $FC_STACK, %esp
    movl %esp, %ebp
    movl $FC_ZERO_PAGE, %esi
    jmp *kernel_entry(%rip)
.size enter_kernel, . - enter_kernel

/* ---- Failure: the loader returns the message; CPL 0 prints it and exits ------------------- */
.macro FAIL name, text
\name:
    leaq 9f(%rip), %rsi
    jmp loader_exit
    .section .rodata
9:  .asciz "\text"
    .previous
.endm

FAIL fail_start_info,   "fc_shim: bad hvm_start_info magic (not booted via PVH?)\n"
FAIL fail_magic,        "fc_shim: bad ELF: no ELF magic at 0x4000000 (missing -device loader,file=ukernel.elf,addr=0x4000000,force-raw=on?)\n"
FAIL fail_data,         "fc_shim: bad ELF: EI_DATA is not ELFDATA2LSB\n"
FAIL fail_phentsize,    "fc_shim: bad ELF: e_phentsize != 56 (not ELF64?)\n"
FAIL fail_phoff,        "fc_shim: bad ELF: e_phoff < 64\n"
FAIL fail_entry,        "fc_shim: bad ELF: e_entry below 0x100000 (linux-loader InvalidEntryAddress)\n"
FAIL fail_phdrs,        "fc_shim: bad ELF: program headers beyond the 32 MiB file window\n"
FAIL fail_segment_file, "fc_shim: bad ELF: PT_LOAD p_offset + p_filesz beyond the 32 MiB file window\n"
FAIL fail_segment_low,  "fc_shim: bad ELF: PT_LOAD p_paddr below 0x100000 (Firecracker's boot structures live there)\n"
FAIL fail_segment_high, "fc_shim: bad ELF: PT_LOAD p_paddr + p_memsz above 0x2000000 (would overwrite the shim)\n"
FAIL fail_cmdline,      "fc_shim: command line longer than 2047 bytes (Firecracker rejects it)\n"
FAIL fail_memmap,       "fc_shim: no usable memory map in hvm_start_info\n"
FAIL fail_memmap_big,   "fc_shim: more than 128 memory map entries\n"
FAIL fail_start_info_address, "fc_shim: hvm_start_info, its command line or memory map lies above 128 MiB\n"
.section .rodata
loader_exception_message:
    .asciz "fc_shim: CPU exception in the CPL-3 loader (shim bug)\n"
.previous

/* CPL 0. RSI = NUL-terminated message: one line on COM1, then isa-debug-exit. */
.type fail, @function
fail:
    movl $shim_stack_top, %esp
fail_next_byte:
    lodsb
    testb %al, %al
    jz 8f
    movb %al, %bl
    movw $(COM1 + 5), %dx
7:  inb %dx, %al
    testb $0x20, %al                    /* LSR.THRE */
    jz 7b
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    jmp fail_next_byte
8:  movb $DEBUG_EXIT_FAIL, %al
    outb %al, $DEBUG_EXIT_PORT
9:  cli
    hlt
    jmp 9b
.size fail, . - fail

/* ---- Data --------------------------------------------------------------------------------- */
.section .data
.balign 8
/* The shim's own GDT. The TSS base is patched in at run time. */
shim_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff            /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
    .quad 0x00af9a000000ffff            /* 0x18: 64-bit code */
    .quad 0x00cff2000000ffff            /* 0x20: user data (0x23) */
    .quad 0x00affa000000ffff            /* 0x28: user 64-bit code (0x2b) */
    .quad 0x0000890000000067            /* 0x30: 64-bit TSS, available */
    .quad 0
shim_gdt_end:
.balign 8
    .word 0, 0, 0
shim_gdt_pointer32:
    .word shim_gdt_end - shim_gdt - 1
    .long shim_gdt
.balign 8
    .word 0, 0, 0
shim_idt_pointer:
    .word SHIM_IDT_VECTORS * 16 - 1
    .quad shim_idt
.balign 8
    .word 0, 0, 0
gdt_pointer_tss:
    .word 39
    .quad FC_GDT
.balign 8
    .word 0, 0, 0
gdt_pointer_fc:
    .word 31
    .quad FC_GDT
.balign 8
    .word 0, 0, 0
idt_pointer_fc:
    .word 7
    .quad FC_IDT
.balign 8
kernel_entry:
    .quad 0
start_info_pointer:
    .long 0
.balign 8
.global shim_tsc
shim_tsc:
    .quad 0, 0

.balign 8
shim_tss:                               /* 64-bit TSS: only RSP0 is used */
    .long 0
    .quad shim_stack_top
    .skip 104 - 12

.section .bss
.balign 4096
shim_pml4:
    .skip 4096
shim_pdpt:
    .skip 4096
shim_pd:
    .skip 4096
shim_idt:
    .skip SHIM_IDT_VECTORS * 16
.balign 16
loader_stack:
    .skip 512
loader_stack_top:
.balign 16
shim_stack:
    .skip 4096
shim_stack_top:
