/* lwIP's mem.c includes stdio.h for snprintf, used only with MEM_OVERFLOW_CHECK (off). */
#ifndef UKERNEL_STDIO_H
#define UKERNEL_STDIO_H
#endif
