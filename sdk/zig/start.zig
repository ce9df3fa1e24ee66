//! The root module of every Zig workload (`ukernel build` compiles this file, with the user's
//! entry file as module `workload` and the SDK as module `ukernel`): it provides the ELF entry
//! point, the ABI version note and the panic handler, and calls `workload.main`.

const ukernel = @import("ukernel");
const workload = @import("workload");

pub const panic = ukernel.panic;

/// The ELF entry point: the kernel calls it with the start context; main's result becomes the
/// VM's exit status.
export fn _start(start: *const ukernel.abi.StartContext) callconv(.c) u32 {
    return ukernel.run(start, workload.main);
}

comptime {
    _ = ukernel.abi_note;
}
