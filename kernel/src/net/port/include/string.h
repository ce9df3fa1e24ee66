/* The C string functions lwIP uses; memcpy, memmove, memset and memcmp come from Zig's
 * compiler-rt, strlen, strcmp and strncmp from kernel/src/net/port.zig. */
#ifndef UKERNEL_STRING_H
#define UKERNEL_STRING_H
#include <stddef.h>
void *memcpy(void *restrict destination, const void *restrict source, size_t length);
void *memmove(void *destination, const void *source, size_t length);
void *memset(void *destination, int value, size_t length);
int memcmp(const void *left, const void *right, size_t length);
size_t strlen(const char *text);
int strcmp(const char *left, const char *right);
int strncmp(const char *left, const char *right, size_t length);
#endif
