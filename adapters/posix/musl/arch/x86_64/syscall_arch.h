/* ukernel overlay for musl 1.2.5 (replaces arch/x86_64/syscall_arch.h).
 *
 * Every system call musl makes goes through one function, __uk_syscall, which the POSIX
 * layer (adapters/posix/src) defines: it serves the Linux call with ukernel ABI calls, so the
 * linked program holds no `syscall` instruction. Contract: n is the Linux x86-64 system call
 * number, a1..a6 its arguments (unused ones are 0); the result is what the kernel would
 * return in rax (>= 0, or -errno). CPython's direct syscall() uses (getrandom 318,
 * pidfd_open 434, pidfd_send_signal 424) arrive here too.
 *
 * The VDSO_* defines are gone on purpose: clock_gettime must take the syscall path, since
 * there is no vDSO. */
#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

hidden long __uk_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6);

static __inline long __syscall0(long n)
{
	return __uk_syscall(n, 0, 0, 0, 0, 0, 0);
}

static __inline long __syscall1(long n, long a1)
{
	return __uk_syscall(n, a1, 0, 0, 0, 0, 0);
}

static __inline long __syscall2(long n, long a1, long a2)
{
	return __uk_syscall(n, a1, a2, 0, 0, 0, 0);
}

static __inline long __syscall3(long n, long a1, long a2, long a3)
{
	return __uk_syscall(n, a1, a2, a3, 0, 0, 0);
}

static __inline long __syscall4(long n, long a1, long a2, long a3, long a4)
{
	return __uk_syscall(n, a1, a2, a3, a4, 0, 0);
}

static __inline long __syscall5(long n, long a1, long a2, long a3, long a4, long a5)
{
	return __uk_syscall(n, a1, a2, a3, a4, a5, 0);
}

static __inline long __syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return __uk_syscall(n, a1, a2, a3, a4, a5, a6);
}

#define IPC_64 0
