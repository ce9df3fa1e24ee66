/* lwIP hooks implemented in Zig (kernel/src/net/port.zig). */
#ifndef UKERNEL_LWIP_HOOKS_H
#define UKERNEL_LWIP_HOOKS_H
#include "lwip/ip_addr.h"
u32_t uk_lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                      u16_t remote_port);
#endif
