/* TEST ONLY: a stand-in for the POSIX layer's __uk_syscall that passes every call to the host
 * Linux kernel with the one raw `syscall` instruction of the binary. It lets
 * adapters/python/tests/host-smoke.sh run the cross-built runtime on the host; the guest links
 * the real layer (adapters/posix) instead. Contract: see adapters/posix/musl/arch/x86_64/
 * syscall_arch.h (Linux x86-64 number and arguments in, rax out: >= 0 or -errno). */
long __uk_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	unsigned long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ __volatile__ ("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2), "d"(a3),
			      "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return (long)ret;
}
