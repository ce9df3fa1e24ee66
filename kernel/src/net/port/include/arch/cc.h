/* lwIP's platform header for ukernel: a freestanding x86-64 kernel without a C library.
 * The functions declared here are implemented in Zig (kernel/src/net/port.zig). */
#ifndef UKERNEL_LWIP_CC_H
#define UKERNEL_LWIP_CC_H

#include <stddef.h>
#include <stdint.h>

#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_UNISTD_H 1
#define BYTE_ORDER LITTLE_ENDIAN

#define X8_F "02x"
#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

void uk_lwip_assert(const char *message, const char *file, int line);
unsigned int uk_lwip_rand(void);

/* A failed lwIP assertion is a kernel bug: report it and stop, like a Zig assertion. */
#define LWIP_PLATFORM_ASSERT(message) uk_lwip_assert((message), __FILE__, __LINE__)
/* Diagnostics are compiled out (LWIP_DEBUG is 0). */
#define LWIP_PLATFORM_DIAG(message) do { } while (0)
#define LWIP_RAND() ((u32_t)uk_lwip_rand())

#endif
