/*
 * Interrupt entry stubs, the static IDT, and the supervisor gate.
 *
 * The stubs sit at a fixed address (INTERRUPT_STUBS_BASE, placed by linker.ld), 16 bytes each,
 * so every IDT gate is an assemble-time constant: the IDT is data, nothing fills it at boot
 * (ring-0 code is emulated under nested KVM, so boot-time loops are expensive).
 *
 * Each stub pushes a zero error code where the CPU pushes none, then the vector, and jumps to
 * interrupt_common, which saves the general registers and calls interrupt_dispatch(frame) in
 * idt.zig. No SSE state is saved: the kernel is compiled without SSE, so it never touches the
 * XMM registers of the ring-3 code it interrupted. The frame layout must match InterruptFrame.
 */

#define INTERRUPT_STUBS_BASE 0x101000
#define INTERRUPT_VECTORS 48
#define SELECTOR_CODE 0x08
#define GATE_INTERRUPT_PRESENT 0x8e
/* frame.zig vector_frame_without_error_code (all ones; the cmpq immediate sign-extends). */
#define FRAME_WITHOUT_ERROR_CODE -1

.section .text.interrupt_stubs, "ax", @progbits
.code64

/* Vectors whose exceptions push an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
.macro STUB vector
.balign 16
.type interrupt_stub_\vector, @function
interrupt_stub_\vector:
.if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
.else
    pushq $0
.endif
    pushq $\vector
    /* jmp rel32, spelled out so its size is fixed (the assembler may not relax it). */
    .byte 0xe9
    .long interrupt_common - . - 4
.if . - interrupt_stub_\vector > 16
.error "interrupt stub larger than 16 bytes"
.endif
.size interrupt_stub_\vector, . - interrupt_stub_\vector
.endm

.global interrupt_stubs_start
interrupt_stubs_start:
.altmacro
.set vector, 0
.rept INTERRUPT_VECTORS
    STUB %vector
    .set vector, vector + 1
.endr
.balign 16
.global interrupt_stubs_end
interrupt_stubs_end:

.section .text, "ax", @progbits

.global interrupt_common
.type interrupt_common, @function
interrupt_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi            /* InterruptFrame *. */
    cld
    call interrupt_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    /*
     * idt.zig marks a device interrupt that arrived on an error-code vector: the CPU pushed no
     * error code, so only the vector is dropped. Flags are free here (iretq restores RFLAGS).
     */
    cmpq $FRAME_WITHOUT_ERROR_CODE, (%rsp)
    je 1f
    addq $16, %rsp             /* Vector and error code. */
    iretq
1:  addq $8, %rsp              /* Vector only. */
    iretq
.size interrupt_common, . - interrupt_common

/*
 * supervisor_call(operation, a, b, c) -> u64, called from ring 3 with the C ABI.
 * `ud2` raises #UD; idt.zig recognises this exact address, runs the operation in ring 0
 * (supervisor.zig), puts the result in RAX and resumes after the ud2. #UD is used rather than
 * syscall or int: under nested KVM (PVM) those reach the guest as #GP, while #UD arrives
 * intact everywhere.
 */
.global supervisor_call
.type supervisor_call, @function
supervisor_call:
.global supervisor_gate
supervisor_gate:
    ud2
    ret
.size supervisor_call, . - supervisor_call

/* The IDT: one interrupt gate per stub; #NMI, #DF and #MC switch to their IST stacks. */
.section .data.idt, "aw", @progbits
.balign 16
.global boot_idt
boot_idt:
.set vector, 0
.rept INTERRUPT_VECTORS
    .word (INTERRUPT_STUBS_BASE + vector * 16) & 0xffff
    .word SELECTOR_CODE
    .if vector == 2
    .byte 2
    .elseif vector == 8
    .byte 1
    .elseif vector == 18
    .byte 3
    .else
    .byte 0
    .endif
    .byte GATE_INTERRUPT_PRESENT
    .word (INTERRUPT_STUBS_BASE + vector * 16) >> 16
    .long 0
    .long 0
    .set vector, vector + 1
.endr
boot_idt_end:

.balign 8
.global boot_idt_pointer
boot_idt_pointer:
    .word boot_idt_end - boot_idt - 1
    .quad boot_idt
