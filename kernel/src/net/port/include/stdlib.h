/* The one C library function lwIP needs from stdlib.h (netif.c: atoi, for interface names);
 * implemented in kernel/src/net/port.zig. */
#ifndef UKERNEL_STDLIB_H
#define UKERNEL_STDLIB_H
int atoi(const char *text);
#endif
