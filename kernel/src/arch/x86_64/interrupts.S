/*
 * Interrupt and exception entry stubs, one per vector in use (the 32 exceptions and 16 device
 * vectors; constants.interrupt_vectors_max must match), and the common path that saves the
 * general registers and the SSE state (the kernel is compiled with SSE, so a handler may
 * clobber XMM registers) before calling interrupt_dispatch(frame) in idt.zig.
 *
 * The frame layout must match InterruptFrame in idt.zig: r15 first (lowest address).
 */

.section .text, "ax", @progbits
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
    jmp interrupt_common
.size interrupt_stub_\vector, . - interrupt_stub_\vector
.endm

.altmacro
.set vector, 0
.rept 48
    STUB %vector
    .set vector, vector + 1
.endr

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
    movq %rsp, %rbx            /* Callee-saved: restores the stack after the call. */
    subq $512, %rsp
    andq $-16, %rsp
    fxsave (%rsp)
    cld
    call interrupt_dispatch
    fxrstor (%rsp)
    movq %rbx, %rsp
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
    addq $16, %rsp             /* Vector and error code. */
    iretq
.size interrupt_common, . - interrupt_common

.macro STUB_ADDRESS vector
    .quad interrupt_stub_\vector
.endm

.section .rodata, "a", @progbits
.balign 8
.global interrupt_stub_table
interrupt_stub_table:
.set vector, 0
.rept 48
    STUB_ADDRESS %vector
    .set vector, vector + 1
.endr
