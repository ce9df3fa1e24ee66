/* ukernel overlay for musl 1.2.5 (replaces src/thread/x86_64/__set_thread_area.s, whose raw
 * `syscall` would bypass __uk_syscall). musl's generic C version would call
 * SYS_set_thread_area, which means something else on x86-64, so this keeps the stock
 * semantics: arch_prctl(ARCH_SET_FS, p). The return value matters to __init_tp: < 0 crashes,
 * 0 enables threads, > 0 leaves them disabled ([musl] src/env/__init_tls.c). */
#include "pthread_impl.h"
#include "syscall.h"

#define UK_ARCH_SET_FS 0x1002

int __set_thread_area(void *p)
{
	return __syscall(SYS_arch_prctl, UK_ARCH_SET_FS, p);
}
