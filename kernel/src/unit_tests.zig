//! Every file with host unit tests, listed once (TigerBeetle's unit_tests.zig pattern).
comptime {
    _ = @import("boot/cmdline.zig");
    _ = @import("drivers/virtio/mmio_token.zig");
    _ = @import("drivers/virtio/mmio.zig");
    _ = @import("drivers/virtio/queue.zig");
    _ = @import("drivers/virtio/net/arp.zig");
    _ = @import("drivers/virtio/net/device.zig");
    _ = @import("drivers/virtio/net/selftest.zig");
    _ = @import("boot/memory_map.zig");
    _ = @import("boot/boot_info.zig");
    _ = @import("debug/symbol_table.zig");
    _ = @import("time/kvmclock.zig");
    _ = @import("time/clock.zig");
    _ = @import("image/format.zig");
    _ = @import("image/rootfs.zig");
    _ = @import("image/sha256.zig");
    _ = @import("image/block_file.zig");
    _ = @import("loader/elf.zig");
    _ = @import("memory/pages.zig");
    _ = @import("memory/heap.zig");
    _ = @import("memory/address_space.zig");
    _ = @import("observe/events.zig");
    _ = @import("abi/golden_test.zig");
    _ = @import("arch/x86_64/frame.zig");
    _ = @import("io/handles.zig");
    _ = @import("sched/scheduler_test.zig");
    _ = @import("ipc/channels_test.zig");
    _ = @import("net/config.zig");
}
