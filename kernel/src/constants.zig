//! Every limit and fixed number of the kernel, in one place (xv6's param.h, TigerBeetle's
//! constants.zig). Units and qualifiers go last in names. Relationships between limits are
//! asserted at compile time at the bottom of this file.

const std = @import("std");
const assert = std.debug.assert;
/// Limits and versions shared with the CLI: generated from abi/contracts.json.
const contracts = @import("abi/contracts.zig");

/// Kernel version, printed in the banner.
pub const kernel_version = "0.1.0";

/// Version of the console records (`@uk:` lines); see docs/console-protocol.md.
pub const console_protocol_version: u32 = contracts.console.protocol_version;

// ---- Memory layout -------------------------------------------------------------------------

/// Physical (= virtual, identity-mapped) load address of the kernel image.
pub const kernel_load_address: u64 = 0x10_0000;

/// The boot page tables identity-map the first 4 GiB with 2 MiB pages (the first 2 MiB with
/// 4 KiB pages so that page 0 stays unmapped and null dereferences fault).
pub const identity_map_bytes: u64 = 4 << 30;

/// 3 GiB – 4 GiB is device memory on both VMMs (Firecracker's MMIO gap, QEMU microvm's
/// LAPIC/IOAPIC/virtio-mmio); RAM above it is not mapped yet, so usable RAM ends here.
pub const ram_limit_bytes: u64 = 3 << 30;
pub const mmio_window_base: u64 = 3 << 30;

/// Size of the boot stack (the stack kmain runs on).
pub const boot_stack_bytes: u64 = 64 * 1024;

/// Size of the ring-0 stack used for interrupts, exceptions and supervisor calls from ring 3.
pub const supervisor_stack_bytes: u64 = 32 * 1024;

/// Most stacks registered for backtraces besides the kernel's own (workload, tasks).
pub const stacks_registered_max: u32 = 64;

/// Size of each interrupt-stack-table stack (double fault, NMI, machine check).
pub const ist_stack_bytes: u64 = 16 * 1024;

comptime {
    assert(kernel_load_address >= 0x10_0000); // Firecracker rejects e_entry below 1 MiB.
    assert(ram_limit_bytes <= mmio_window_base);
    assert(mmio_window_base < identity_map_bytes);
    assert(identity_map_bytes % (2 << 20) == 0);
    assert(boot_stack_bytes % 4096 == 0);
    assert(supervisor_stack_bytes % 4096 == 0);
    assert(ist_stack_bytes % 4096 == 0);
}

// ---- Boot information ----------------------------------------------------------------------

/// Longest kernel command line accepted (Firecracker's limit is 2048 bytes).
pub const cmdline_bytes_max: u32 = contracts.limits.cmdline_bytes_max;

/// Most memory-map entries kept (Firecracker's zero page holds up to 128; real maps have < 10).
pub const memory_map_entries_max: u32 = 64;

/// Most command-line tokens: as many as the longest command line can hold (a token takes a byte
/// and a blank separates it from the next), so no line the kernel accepts loses a token to the
/// bound (the disk tokens QEMU appends come last).
pub const cmdline_tokens_max: u32 = (cmdline_bytes_max + 1) / 2;

/// Most virtio-mmio devices listed on the command line (Firecracker allows 17 on x86).
pub const virtio_devices_max: u32 = 32;

comptime {
    assert(cmdline_bytes_max >= 2048);
    // n tokens need 2n - 1 bytes: one more token than the bound never fits the longest line.
    assert(2 * (cmdline_tokens_max + 1) - 1 > cmdline_bytes_max);
}

// ---- Console -------------------------------------------------------------------------------

/// COM1 I/O base.
pub const serial_port_base: u16 = 0x3f8;

/// The 16550 transmit FIFO depth: bytes that may be written after one "THR empty" check.
pub const serial_fifo_bytes: u32 = 16;

/// How many times the transmitter-empty bit is polled before the console gives up (and stops
/// waiting for good: a console that never drains must not hang the kernel).
pub const serial_poll_attempts_max: u32 = 100_000_000;

/// How long the transmitter may stay full before the console stops waiting for good: 4e9 TSC
/// cycles, 1–4 s at 1–4 GHz (the TSC frequency is not known yet when the console first waits).
pub const serial_stall_tsc_cycles: u64 = 4_000_000_000;

/// Most bytes one console supervisor call writes (callers loop for more).
pub const console_write_bytes_max: u64 = 64 * 1024;

/// Longest formatted console line; longer lines are cut with a marker. Records are such lines,
/// and the CLI reads records up to this length.
pub const console_line_bytes_max: u32 = contracts.console.record_line_bytes_max;

comptime {
    assert(serial_fifo_bytes > 0);
    assert(serial_fifo_bytes <= 64);
    assert(console_line_bytes_max >= 128);
}

// ---- Time ----------------------------------------------------------------------------------

/// PIT input clock (Hz), used to calibrate the TSC when kvmclock is absent (TCG).
pub const pit_hz: u64 = 1_193_182;

/// PIT ticks to measure while calibrating the TSC: 5 ms.
pub const pit_calibration_ticks: u32 = 5_966;

/// Consecutive identical counter reads after which there is taken to be no PIT: a PIT counts
/// every 0.84 µs, and one read takes at least that long.
pub const pit_absent_reads_unchanged: u32 = 1000;

/// Give up on the PIT after this many TSC cycles whatever it reads, about 2 s at 3 GHz.
pub const pit_calibration_tsc_cycles_max: u64 = 6_000_000_000;

/// Frequency assumed when no clock source can be measured.
pub const tsc_hz_fallback: u64 = 1_000_000_000;

comptime {
    assert(pit_calibration_ticks < 0x10000); // One reload period of a 16-bit counter.
}

// ---- Exit ----------------------------------------------------------------------------------

/// QEMU isa-debug-exit port (the CLI passes iobase=0xf4): QEMU exits with (v << 1) | 1.
pub const debug_exit_port: u16 = 0xf4;

/// i8042 command port; writing 0xFE resets the CPU, which makes Firecracker exit 0.
pub const i8042_command_port: u16 = 0x64;
pub const i8042_reset_command: u8 = 0xfe;
/// How long the exit waits after the i8042 reset for the VMM to stop the vCPU before it
/// triple-faults: 4e8 TSC cycles, 0.1–0.4 s at 1–4 GHz (Firecracker takes well under a
/// millisecond; a VMM without the door pays it once). The spin count bounds it too.
pub const i8042_reset_wait_tsc_cycles: u64 = 400_000_000;
pub const i8042_reset_wait_spins_max: u64 = 100_000_000;

/// Status of a kernel panic or an unhandled CPU exception (Rust's panic exit code).
pub const exit_status_panic: u8 = 101;

// ---- Devices and images ---------------------------------------------------------------------

/// Entries per virtqueue (a power of two, at most 256 on Firecracker). Requests are synchronous,
/// three descriptors each, so a small queue is enough.
pub const virtqueue_size: u16 = 16;
pub const virtqueue_size_max: u16 = 256;

/// Largest data buffer in one virtio-blk request.
pub const block_request_bytes_max: u64 = 128 * 1024;

/// How long one virtio-blk request may take before it is declared lost.
pub const block_request_timeout_ns: u64 = 5 * std.time.ns_per_s;

/// Largest image the kernel accepts (docs/image-format.md).
pub const image_bytes_max: u64 = contracts.limits.image_bytes_max;
/// Most sections in an image header.
pub const image_sections_max: u32 = contracts.limits.image_sections_max;
/// Most rootfs entries, longest rootfs path.
pub const rootfs_entries_max: u32 = contracts.limits.rootfs_entries_max;
pub const rootfs_path_bytes_max: u32 = contracts.limits.rootfs_path_bytes_max;
/// Largest rootfs index block the kernel reads (header, entries, paths).
pub const rootfs_index_bytes_max: u64 = contracts.limits.rootfs_index_bytes_max;
comptime {
    assert(rootfs_index_bytes_max < image_bytes_max);
}

/// A rootfs file is hashed in blocks of this size (UKFS 2, docs/image-format.md): io.read loads
/// and verifies one block on its first touch. Whole pages, so each block is its own allocation.
pub const rootfs_block_bytes: u64 = contracts.image.rootfs_block_bytes;
comptime {
    assert(rootfs_block_bytes % 4096 == 0);
    assert(rootfs_block_bytes <= block_request_bytes_max); // One virtio-blk request per block.
}

/// Largest workload ELF the kernel loads.
pub const workload_file_bytes_max: u64 = contracts.limits.workload_file_bytes_max;
comptime {
    assert(workload_file_bytes_max < image_bytes_max);
}
/// Most arguments and environment entries handed to the workload, and their total bytes.
pub const workload_args_max: u32 = contracts.limits.workload_args_max;
pub const workload_env_max: u32 = contracts.limits.workload_env_max;
pub const workload_env_file_bytes_max: u64 = contracts.limits.workload_env_file_bytes_max;

/// Status when the kernel cannot start the workload (no or bad image, bad ELF, ABI mismatch).
pub const exit_status_workload_not_started: u8 = 102;

comptime {
    assert(virtqueue_size <= virtqueue_size_max);
    assert(virtqueue_size >= 3);
    assert(block_request_bytes_max % 512 == 0);
}

// ---- Network (virtio-net) ------------------------------------------------------------------

/// Entries in each virtio-net queue, RX and TX (both VMMs allow 256: QueueNumMax). Each buffer is
/// one descriptor, so this is also the number of RX buffers (all posted, the ring kept full) and
/// of TX buffers.
pub const net_queue_size: u16 = 256;
/// The virtio-net header whenever VERSION_1 is negotiated (virtio 1.2 §5.1.6.1; Firecracker's
/// vnet_hdr_len, QEMU's guest_hdr_len): 12 bytes, zero on TX without offloads.
pub const net_header_bytes: u32 = 12;
/// The IP MTU without VIRTIO_NET_F_MTU (slirp's and a default tap's), and the largest Ethernet
/// frame it allows (14-byte header, no FCS).
pub const net_mtu_bytes: u32 = 1500;
pub const net_frame_bytes_max: u32 = 14 + net_mtu_bytes;
/// What one RX buffer offers the device: header + largest frame (§5.1.6.3's 1526 without
/// MRG_RXBUF or GSO; Firecracker refuses smaller ones, minimum_rx_buffer_size).
pub const net_rx_buffer_bytes: u32 = net_header_bytes + net_frame_bytes_max;
/// Spacing of the buffers in memory: two per page.
pub const net_buffer_stride_bytes: u32 = 2048;
/// The boot self-test (`uk.net.selftest`): ARP requests sent one after the other, and how long
/// each waits for its reply.
pub const net_selftest_rounds: u32 = 4;
pub const net_selftest_reply_timeout_ns: u64 = 2 * std.time.ns_per_s;
/// Most rounds of one self-test wait (each ends a halt or takes frames), besides its deadline.
pub const net_selftest_wait_rounds_max: u32 = 100_000;

comptime {
    assert(std.math.isPowerOfTwo(net_queue_size));
    assert(net_queue_size <= virtqueue_size_max);
    assert(net_rx_buffer_bytes == 1526);
    assert(net_rx_buffer_bytes <= net_buffer_stride_bytes);
    assert(4096 % net_buffer_stride_bytes == 0);
}

// ---- Tasks ------------------------------------------------------------------------------------

/// Tasks, the workload's first task included.
pub const tasks_max: u32 = 64;
/// Stack of every task but the first (task.spawn's stack_bytes may not exceed it); each has a
/// guard page below it.
pub const task_stack_bytes: u64 = 64 * 1024;
/// The first task's stack: what the workload's PT_GNU_STACK asks for, this default when it asks
/// nothing, at most the max (workload.zig, stack_request).
pub const main_task_stack_bytes_default: u64 = contracts.limits.workload_stack_bytes_default;
pub const main_task_stack_bytes_max: u64 = contracts.limits.workload_stack_bytes_max;
/// Trace spans a task may have open at once.
pub const task_spans_open_max: u32 = 16;
/// Longest timeout or sleep honoured (longer ones are cut to it): one day.
pub const timeout_ns_max: u64 = 24 * 3600 * std.time.ns_per_s;
/// Idle: the CPU halts until a margin before the earliest deadline, then spins the rest in
/// ring 3 (rdtsc + pause, native speed), so that sleeps end on time. The margin is what a halt
/// really costs on this VMM, learned at run time (scheduler.zig): the highest recent overshoot
/// of a halt past its armed deadline (decaying by 1/idle_halt_margin_decay per halt), plus a
/// quarter, plus idle_halt_margin_slack_ns, kept within [min, max]. Measured: ~10–30 µs under
/// native KVM, ~150–300 µs under nested KVM (PVM: ring 0 is emulated), ms under TCG. It starts
/// at idle_halt_margin_initial_ns. A deadline nearer than margin + idle_halt_ns_min is spun for.
pub const idle_halt_margin_initial_ns: u64 = 500 * std.time.ns_per_us;
pub const idle_halt_margin_min_ns: u64 = 20 * std.time.ns_per_us;
pub const idle_halt_margin_max_ns: u64 = 2 * std.time.ns_per_ms;
pub const idle_halt_margin_slack_ns: u64 = 5 * std.time.ns_per_us;
pub const idle_halt_margin_decay: u64 = 64;
pub const idle_halt_ns_min: u64 = 50 * std.time.ns_per_us;
/// While tasks keep running, the scheduler's waker (the network stack) still runs at least this
/// often, at a task switch: frames and TCP timers wait at most this long for a busy workload.
/// Before halting, the scheduler spins this long asking the waker's device for work (a halt and
/// the interrupt that ends it cost ~250 µs under nested KVM; a request's next packet comes
/// sooner), at most waker_busy_poll_spins_max times.
pub const waker_busy_poll_ns: u64 = 100 * std.time.ns_per_us;
pub const waker_busy_poll_spins_max: u32 = 100_000;
pub const waker_poll_interval_ns: u64 = 50 * std.time.ns_per_us;
/// Most `pause` iterations of one idle spin (the spin is also bounded by its deadline, at most
/// margin + idle_halt_ns_min away): past it the scheduler looks again, harmlessly.
pub const idle_spin_iterations_max: u64 = 10_000_000;
/// Longest halt when no task has a deadline but a device can wake one (scheduler.Waker): the
/// scheduler then looks again, and halts again.
pub const idle_device_halt_ns_max: u64 = 1 * std.time.ns_per_s;
/// Status when every task is blocked and nothing can wake them.
pub const exit_status_deadlock: u8 = 103;

comptime {
    assert(tasks_max >= 2); // The workload's task and at least one it spawns.
    assert(task_stack_bytes % 4096 == 0);
    assert(main_task_stack_bytes_default % 4096 == 0);
    assert(main_task_stack_bytes_max % 4096 == 0);
    assert(main_task_stack_bytes_default <= main_task_stack_bytes_max);
    assert(main_task_stack_bytes_default >= task_stack_bytes);
    assert(idle_halt_margin_min_ns <= idle_halt_margin_initial_ns);
    assert(idle_halt_margin_initial_ns <= idle_halt_margin_max_ns);
    assert(idle_halt_margin_decay >= 2);
}

// ---- Handles, channels, files, arenas ----------------------------------------------------------

pub const handles_max: u32 = 512;
pub const channels_max: u32 = 64;
pub const channel_capacity_max: u32 = 1024;
pub const channel_message_bytes_max: u32 = 64 * 1024;
/// Bytes of all channels' storage together.
pub const channel_storage_bytes_max: u64 = 64 << 20;
pub const files_open_max: u32 = 32;
/// Largest file io.open opens: bounds its block-hash list and its table of loaded blocks
/// (4096 blocks: 128 KiB of hashes, 32 KiB of block addresses).
pub const file_open_bytes_max: u64 = 64 << 20;
pub const arenas_max: u32 = 64;
pub const arena_bytes_max: u64 = 1 << 30;
/// Most items one io.poll watches.
pub const poll_items_max: u32 = 256;

comptime {
    assert(handles_max > 2); // Handle 0 is never used, 1 is the console.
    assert(channels_max <= handles_max);
    assert(channel_capacity_max > 0);
    assert(channel_message_bytes_max > 0);
}

// ---- net.* (sockets on lwIP; kernel/src/net/sockets.zig) -------------------------------------

/// Most sockets at once, including connections waiting in a listener's backlog (each holds a
/// socket from its arrival, so data sent before net.accept has somewhere to queue).
pub const net_sockets_max: u32 = 384;
/// Most connections one listener holds for net.accept; a larger backlog is lowered to it, and
/// connection requests beyond it are dropped until one is accepted. A burst of SYNs arrives in
/// one poll before the workload runs: those past the backlog wait for the peer's retransmit
/// (a second or more), so it is sized for a hundred clients connecting at once. lwIP's backlog
/// is a u8.
pub const net_listen_backlog_max: u32 = 192;
/// Received bytes a socket queues for net.recv by default and at most (option_receive_buffer_
/// bytes). For TCP the window closes as the queue fills (lwIP's tcp_recved is only called as
/// the workload reads), so a slow reader slows its peer instead of losing data.
pub const net_receive_buffer_bytes_default: u32 = 64 * 1024;
pub const net_receive_buffer_bytes_max: u32 = 256 * 1024;
/// Entries of a socket's receive queue: received TCP chains (each up to 64 KiB: small segments
/// are joined) or datagrams. A full queue holds TCP data back in lwIP (refused data, delivered
/// again as the queue drains) and drops datagrams, as UDP allows.
pub const net_receive_queue_entries: u32 = 32;
/// A sender blocked on a full send buffer looks again this often even without an acknowledgement:
/// lwIP's heap may have been short for other sockets' data, which frees no room of its own.
pub const net_send_retry_ns: u64 = 10 * std.time.ns_per_ms;
/// Most net.resolve calls waiting at once (each holds one lwIP DNS request).
pub const net_resolves_max: u32 = 8;
/// The longest a blocking net.connect waits for the handshake (then timed_out). A backstop:
/// lwIP gives up first, after TCP_SYNMAXRTX (6) retransmissions of the SYN every 3 s without
/// back-off in SYN_SENT (core/tcp.c, tcp_slowtmr), about 18 s, for blocking and non-blocking
/// connects alike.
pub const net_connect_timeout_ns: u64 = 30 * std.time.ns_per_s;
/// The longest net.resolve waits (timeout_infinite means this).
pub const net_resolve_timeout_ns_max: u64 = 30 * std.time.ns_per_s;

comptime {
    assert(net_sockets_max <= handles_max);
    assert(net_listen_backlog_max < net_sockets_max);
    assert(net_receive_buffer_bytes_default <= net_receive_buffer_bytes_max);
    assert(net_receive_buffer_bytes_default >= @import("abi/abi.zig").socket_buffer_bytes_min);
    assert(net_receive_queue_entries > 0);
}

// ---- Events (logs and traces) -------------------------------------------------------------------

/// Longest span or event name (the ABI's limit).
pub const name_bytes_max: u64 = @import("abi/abi.zig").name_bytes_max;

/// The kernel's event buffer; a full buffer is flushed to the events device.
pub const events_buffer_bytes: u32 = 64 * 1024;
/// A non-empty buffer is flushed at least this often while tasks run (checked when they yield).
pub const events_flush_interval_ns: u64 = 10 * std.time.ns_per_ms;

// ---- Memory -----------------------------------------------------------------------------------

/// Free runs the page allocator tracks; a free that would need more leaks its pages instead.
pub const page_runs_max: u32 = 1024;
/// Largest single mem.alloc.
pub const heap_allocation_bytes_max: u64 = 1 << 30;

// ---- Network stack (lwIP) ---------------------------------------------------------------------

/// lwIP's sizes, handed to its C code as -D flags by build.zig (net/port/include/lwipopts.h
/// names them UK_LWIP_*). The pools bound every PCB: TIME_WAIT ones are recycled, not piled up.
pub const lwip = struct {
    /// lwIP's own heap: copied TX data (tcp_write with COPY) and PBUF_RAM.
    pub const heap_bytes: u64 = 4 << 20;
    /// TCP PCBs, TIME_WAIT ones included.
    pub const tcp_pcbs: u32 = 512;
    pub const tcp_listeners: u32 = 16;
    pub const udp_pcbs: u32 = 32;
    /// Queued TCP segments, over all connections.
    pub const tcp_segments: u32 = 1024;
    pub const pbufs: u32 = 64;
    /// Pool pbufs (one whole received frame each): frames held by queues and reassembly.
    pub const pool_pbufs: u32 = 512;
    /// Receive window per connection (scaled: above 64 KiB).
    pub const tcp_window_bytes: u32 = 128 * 1024;
    /// Send buffer per connection.
    pub const tcp_send_bytes: u32 = 64 * 1024;
    /// The whole pool window: what lwIP's sanity check asks of TCP_WND.
    pub const pool_bytes: u64 = @as(u64, pool_pbufs) * 1460;
};

/// Most pbufs in one transmitted chain (lwIP sends single-pbuf TCP segments,
/// LWIP_NETIF_TX_SINGLE_PBUF; UDP adds a header pbuf): a longer chain is dropped and counted.
pub const net_frame_parts_max: u32 = 16;
/// How long DHCP has to give the NIC an address before the kernel reports it has none (the
/// @uk:net record says source=none) and calls waiting for the address go ahead; DHCP goes on
/// trying. slirp answers in well under a millisecond.
pub const net_dhcp_wait_ns_max: u64 = 2 * std.time.ns_per_s;
/// Longest a blocking connect, sendto or resolve waits for the NIC's address while the network
/// is still coming up (its set-up, then DHCP's net_dhcp_wait_ns_max).
pub const net_address_wait_ns_max: u64 = 3 * std.time.ns_per_s;
/// Longest the kernel waits at exit for the NIC to send what lwIP handed it.
pub const net_drain_ns_max: u64 = 100 * std.time.ns_per_ms;
/// A listener whose backlog is full of half-open connections (SYN received, the handshake never
/// finished: a SYN flood from spoofed addresses) loses those older than this, so real clients
/// get in within a retransmit or two; lwIP alone keeps them 20 s (TCP_SYN_RCVD_TIMEOUT).
pub const net_half_open_age_ms: u32 = 1000;
/// Most rounds of a wait for the network (for the address, or for ARP answers at exit), a
/// bound besides each wait's deadline.
pub const net_config_rounds_max: u32 = 100_000;

comptime {
    assert(lwip.tcp_window_bytes <= lwip.pool_bytes);
    assert(lwip.tcp_send_bytes >= 2 * 1460);
    assert(lwip.tcp_segments >= (4 * lwip.tcp_send_bytes + 1459) / 1460);
    assert(lwip.tcp_listeners <= lwip.tcp_pcbs);
    assert(lwip.tcp_pcbs >= net_sockets_max); // Every socket can hold a PCB, TIME_WAIT aside.
}

// ---- Interrupts ---------------------------------------------------------------------------

/// Vectors with entry stubs and IDT gates (interrupts.S, INTERRUPT_VECTORS): the 32 CPU
/// exceptions and 16 device vectors. Vectors beyond the IDT limit raise #GP and are reported.
pub const interrupt_vectors_max: u32 = 48;
pub const exception_vectors: u32 = 32;

/// Device interrupt lines (arch/x86_64/device_interrupts.zig): line n gets vector
/// device_interrupt_vector_base + n, between the APIC timer (32) and the spurious vector (47).
pub const device_interrupt_vector_base: u32 = 33;
pub const device_interrupt_lines_max: u32 = 4;
/// IOAPIC redirection entries on both VMMs (KVM's and QEMU's IOAPIC: 24 pins).
pub const ioapic_pins: u32 = 24;

comptime {
    assert(exception_vectors < interrupt_vectors_max);
    assert(interrupt_vectors_max <= 256);
    assert(device_interrupt_vector_base > exception_vectors);
    assert(device_interrupt_vector_base + device_interrupt_lines_max < interrupt_vectors_max);
}

// ---- Debugging -----------------------------------------------------------------------------

/// Deepest backtrace printed.
pub const backtrace_frames_max: u32 = 32;

/// Boot phases timed with the TSC and reported in the `@uk:boot` record, in boot order.
pub const BootPhase = enum(u8) { ring3, boot_info, clock, devices, ready };
