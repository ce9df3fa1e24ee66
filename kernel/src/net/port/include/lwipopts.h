/* lwIP options for ukernel (lwIP 2.2.1, src/include/lwip/opt.h has every default).
 *
 * lwIP runs in one context: ring-3 kernel code on the cooperative scheduler, never from an
 * interrupt, and no task yields inside an lwIP call (kernel/src/net/stack.zig). Hence NO_SYS
 * and no locking. The sizes that bound memory come from kernel/src/constants.zig (net section)
 * through -D flags set by kernel/build.zig: the one place limits live. */
#ifndef UKERNEL_LWIPOPTS_H
#define UKERNEL_LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_TCPIP_CORE_LOCKING 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETIF_API 0

/* Memory: lwIP's own heap (PBUF_RAM, copied TX data) and fixed pools, all static. Pools bound
 * the PCBs, so TIME_WAIT PCBs are recycled by tcp_alloc instead of piling up. */
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
#define MEM_SIZE UK_LWIP_HEAP_BYTES
/* The heap itself is taken from the page allocator when the stack starts (net/port.zig
 * take_heap), not a static array: a workload without sockets does not pay MEM_SIZE. */
extern unsigned char *uk_lwip_ram_heap;
#define LWIP_RAM_HEAP_POINTER uk_lwip_ram_heap
#define MEMP_NUM_TCP_PCB UK_LWIP_TCP_PCBS
#define MEMP_NUM_TCP_PCB_LISTEN UK_LWIP_TCP_LISTENERS
#define MEMP_NUM_UDP_PCB UK_LWIP_UDP_PCBS
#define MEMP_NUM_TCP_SEG UK_LWIP_TCP_SEGMENTS
#define MEMP_NUM_PBUF UK_LWIP_PBUFS
#define MEMP_NUM_REASSDATA 8
#define MEMP_NUM_FRAG_PBUF 16
#define MEMP_NUM_ARP_QUEUE 32
#define PBUF_POOL_SIZE UK_LWIP_POOL_PBUFS
/* One pool pbuf holds a whole Ethernet frame: received frames are never chains. */
#define PBUF_POOL_BUFSIZE 1536
/* Room before the Ethernet header, so the driver could prepend the 12-byte virtio-net header. */
#define PBUF_LINK_ENCAPSULATION_HLEN 12

/* Protocols. */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
/* RFC 5227 conflict probing would hold the address back for 6-9 s: a microVM's address is
 * the VMM's to give (slirp's DHCP, or the CLI's static address). */
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define LWIP_ACD 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 1
#define DNS_MAX_SERVERS 2
#define DNS_TABLE_SIZE 8
/* The resolver's server port can be moved (uk.dns=ADDR:PORT), for test servers. */
extern unsigned short uk_lwip_dns_port;
#define DNS_SERVER_PORT uk_lwip_dns_port
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 64
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_HOSTNAME 1
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define ARP_TABLE_SIZE 32
#define ARP_QUEUEING 1

/* TCP, sized for MTU 1500 with window scaling (slirp ignores scaling; taps honour it). */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 2
#define TCP_WND UK_LWIP_TCP_WINDOW_BYTES
#define TCP_SND_BUF UK_LWIP_TCP_SEND_BYTES
#define TCP_SND_QUEUELEN ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE 1
#define SO_REUSE 1
/* TIME_WAIT lasts 2 x MSL: 120 s by default, which holds PCBs a busy server needs. */
#define TCP_MSL 5000UL
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define LWIP_NETIF_TX_SINGLE_PBUF 1

/* Checksums: the driver acks no checksum offload, so lwIP makes and checks every one. */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define LWIP_CHECKSUM_ON_COPY 0

/* Counters feed the guest's memory and error figures; no debug output. */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define MEM_STATS 1
#define MEMP_STATS 1
#define LWIP_DEBUG 0

/* TCP initial sequence numbers: RFC 6528's secret-keyed hash (kernel/src/net/port.zig), not
 * lwIP's predictable counter. */
#define LWIP_HOOK_FILENAME "uk_lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN uk_lwip_tcp_isn

#endif
