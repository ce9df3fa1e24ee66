/* The ukernel POSIX layer (libukposix.a), for C adapters: docs/posix-layer.md.
 *
 * The layer provides the program's entry point (_start: the kernel calls it with the start
 * context, the layer calls musl's __libc_start_main with the adapter's main) and musl's
 * system-call entry (__uk_syscall: musl's __syscall0..6 call it instead of the `syscall`
 * instruction). An adapter uses these two functions besides: */
#ifndef UKPOSIX_H
#define UKPOSIX_H

#include <stdint.h>

#include "ukernel_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel's call table (what _start received), for the adapter's own ABI calls: log.write,
 * trace.*, ipc.*. Valid from before main runs to the end of the program. */
const uk_table *uk_posix_table(void);

/* uk_posix_adopt kinds. */
/* An IPC channel handle (ipc.channel_create). The fd reads one message per read() (ipc.recv),
 * writes one message per write() (ipc.send), honours O_NONBLOCK, and poll()/select() report it
 * readable or writable as io.poll does. The handle stays the caller's: close(fd) does not
 * close it; close the fd before io.close(handle). */
#define UK_POSIX_ADOPT_CHANNEL 1
/* A net.socket stream handle. It becomes the fd's, exactly as if socket(2) had made it:
 * close(fd) closes it. */
#define UK_POSIX_ADOPT_SOCKET 2

/* Wraps an ABI handle as a file descriptor that poll(), select() and asyncio's selectors
 * watch (Python's ukernel.Channel registers its channel with the event loop this way).
 * Returns the new fd (FD_CLOEXEC set), or -errno: -EBADF (handle 0), -EINVAL (unknown kind),
 * -EMFILE (the fd table is full). */
int uk_posix_adopt(uint32_t handle, int kind);

/* musl's system-call entry (declared here for completeness; musl's overlay syscall_arch.h
 * calls it). Returns the result or -errno; unserved numbers return -ENOSYS and are logged
 * once per run ("posix: unserved system call", syscall=<name> number=<n>). */
long __uk_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

#ifdef __cplusplus
}
#endif

#endif /* UKPOSIX_H */
