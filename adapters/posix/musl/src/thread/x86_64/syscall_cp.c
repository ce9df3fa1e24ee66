/* ukernel overlay for musl 1.2.5 (replaces src/thread/x86_64/syscall_cp.s, whose raw
 * `syscall` would bypass __uk_syscall). A pending cancellation is still acted on when the
 * call starts, as the assembly did; a cancellation signal arriving during the call is not
 * (no signal is ever delivered under ukernel), so __cp_begin == __cp_end: an empty range
 * that pthread_cancel.c's handler never matches. */
#include "pthread_impl.h"
#include "syscall.h"

hidden long __cancel(void);

__asm__(
	".text\n"
	".global __cp_begin\n.hidden __cp_begin\n__cp_begin:\n"
	".global __cp_end\n.hidden __cp_end\n__cp_end:\n"
	".global __cp_cancel\n.hidden __cp_cancel\n__cp_cancel:\n"
	"	jmp __cancel\n");

hidden long __syscall_cp_asm(volatile int *cancel, syscall_arg_t nr,
                             syscall_arg_t u, syscall_arg_t v, syscall_arg_t w,
                             syscall_arg_t x, syscall_arg_t y, syscall_arg_t z)
{
	if (*cancel) return __cancel();
	return __syscall6(nr, u, v, w, x, y, z);
}
