//! Loads a workload: a static position-independent ELF64 (ET_DYN, x86-64), as `ukernel build`
//! produces. `inspect` checks the file and computes its layout; `load` copies the segments to
//! their place in a destination block, zeroes the rest, and applies the relative relocations
//! (RELA R_X86_64_RELATIVE and RELR). Anything else (an interpreter, shared libraries, other
//! relocation types) is refused with a reason. A TLS segment is loaded as part of its PT_LOAD
//! only when the ABI notes say the workload sets its own thread pointer (its C library builds
//! the TLS block from the program headers, as musl's static start does). Pure code, host-tested.

const std = @import("std");
const assert = std.debug.assert;
const elf = std.elf;
const constants = @import("../constants.zig");
const abi_definition = @import("../abi/abi.zig");

pub const Error = error{
    NotElf,
    Not64Bit,
    NotLittleEndian,
    NotX86_64,
    NotPositionIndependent,
    BadProgramHeaders,
    BadSegment,
    NoLoadableSegment,
    TooLarge,
    DynamicallyLinked,
    ThreadLocalStorageUnsupported,
    BadDynamicSection,
    UnsupportedRelocation,
    BadRelocation,
    BadEntry,
    DestinationTooSmall,
};

pub const AbiVersion = struct { major: u16, minor: u16, patch: u16 };

pub const Layout = struct {
    /// Bytes from the lowest to the end of the highest PT_LOAD (relative addresses).
    span_bytes: u64,
    entry_offset: u64,
    abi: ?AbiVersion,
    /// The stack the program asks for: PT_GNU_STACK's p_memsz (0: no request).
    stack_bytes: u64,
};

const program_headers_max = 64;
const page_bytes: u64 = 4096;

pub fn inspect(file: []const u8) Error!Layout {
    const header = try file_header(file);
    var span_end: u64 = 0;
    var loadable = false;
    var entry_executable = false;
    var notes: Notes = .{};
    var thread_local = false;
    var stack_bytes: u64 = 0;
    for (0..header.e_phnum) |index| {
        const segment = try program_header(file, header, index);
        switch (segment.p_type) {
            elf.PT_LOAD => {
                try check_segment(file, segment);
                loadable = true;
                span_end = @max(span_end, segment.p_vaddr + segment.p_memsz);
                const entry_inside = header.e_entry >= segment.p_vaddr and
                    header.e_entry < segment.p_vaddr + segment.p_memsz;
                if (entry_inside and segment.p_flags & elf.PF_X != 0) entry_executable = true;
            },
            elf.PT_INTERP => return error.DynamicallyLinked,
            elf.PT_TLS => thread_local = true,
            elf.PT_GNU_STACK => stack_bytes = segment.p_memsz,
            elf.PT_NOTE => {
                if (segment.p_offset > file.len or
                    segment.p_filesz > file.len - segment.p_offset) return error.BadSegment;
                read_notes(file[segment.p_offset..][0..segment.p_filesz], &notes);
            },
            else => {},
        }
    }
    if (!loadable) return error.NoLoadableSegment;
    if (span_end > constants.workload_file_bytes_max) return error.TooLarge;
    if (!entry_executable) return error.BadEntry;
    if (thread_local and !notes.sets_thread_pointer) return error.ThreadLocalStorageUnsupported;
    return .{
        .span_bytes = std.mem.alignForward(u64, span_end, page_bytes),
        .entry_offset = header.e_entry,
        .abi = notes.abi,
        .stack_bytes = stack_bytes,
    };
}

/// Copies the segments into `destination` (page-aligned, at least span_bytes, and ZEROED: the
/// gaps between and after segments, bss included, are not written) and relocates for
/// base = destination's address. Returns the entry point's address.
pub fn load(file: []const u8, layout: Layout, destination: []align(4096) u8) Error!u64 {
    if (destination.len < layout.span_bytes) return error.DestinationTooSmall;
    const header = try file_header(file);
    const base = @intFromPtr(destination.ptr);
    var dynamic: ?elf.Elf64_Phdr = null;
    for (0..header.e_phnum) |index| {
        const segment = try program_header(file, header, index);
        if (segment.p_type == elf.PT_DYNAMIC) dynamic = segment;
        if (segment.p_type != elf.PT_LOAD) continue;
        assert(segment.p_vaddr + segment.p_memsz <= layout.span_bytes);
        @memcpy(
            destination[segment.p_vaddr..][0..segment.p_filesz],
            file[segment.p_offset..][0..segment.p_filesz],
        );
    }
    if (dynamic) |segment| try relocate(destination[0..layout.span_bytes], base, segment);
    return base + layout.entry_offset;
}

fn file_header(file: []const u8) Error!elf.Elf64_Ehdr {
    if (file.len < @sizeOf(elf.Elf64_Ehdr)) return error.NotElf;
    if (!std.mem.eql(u8, file[0..4], elf.MAGIC)) return error.NotElf;
    if (file[elf.EI_CLASS] != elf.ELFCLASS64) return error.Not64Bit;
    if (file[elf.EI_DATA] != elf.ELFDATA2LSB) return error.NotLittleEndian;
    const header = std.mem.bytesToValue(elf.Elf64_Ehdr, file[0..@sizeOf(elf.Elf64_Ehdr)]);
    if (header.e_machine != .X86_64) return error.NotX86_64;
    if (header.e_type != .DYN) return error.NotPositionIndependent;
    if (header.e_phentsize != @sizeOf(elf.Elf64_Phdr)) return error.BadProgramHeaders;
    if (header.e_phnum == 0 or header.e_phnum > program_headers_max) return error.BadProgramHeaders;
    const table_bytes = @as(u64, header.e_phnum) * @sizeOf(elf.Elf64_Phdr);
    if (header.e_phoff > file.len or
        table_bytes > file.len - header.e_phoff) return error.BadProgramHeaders;
    return header;
}

fn program_header(file: []const u8, header: elf.Elf64_Ehdr, index: usize) Error!elf.Elf64_Phdr {
    assert(index < header.e_phnum);
    const offset = header.e_phoff + index * @sizeOf(elf.Elf64_Phdr);
    return std.mem.bytesToValue(elf.Elf64_Phdr, file[offset..][0..@sizeOf(elf.Elf64_Phdr)]);
}

fn check_segment(file: []const u8, segment: elf.Elf64_Phdr) Error!void {
    if (segment.p_filesz > segment.p_memsz) return error.BadSegment;
    if (segment.p_offset > file.len or
        segment.p_filesz > file.len - segment.p_offset) return error.BadSegment;
    if (segment.p_memsz > constants.workload_file_bytes_max) return error.TooLarge;
    if (segment.p_vaddr > constants.workload_file_bytes_max - segment.p_memsz) {
        return error.TooLarge;
    }
    // Page-aligned loading at a page-aligned base keeps every alignment up to a page.
    if (segment.p_align > page_bytes) return error.BadSegment;
}

/// What the workload's "ukernel" notes state (abi/abi.zig: note_type_*).
const Notes = struct { abi: ?AbiVersion = null, sets_thread_pointer: bool = false };

/// Reads the "ukernel" notes of one note segment into `notes`; malformed notes end the walk.
fn read_notes(segment: []const u8, notes: *Notes) void {
    var offset: usize = 0;
    var count: u32 = 0;
    while (offset + 12 <= segment.len and count < 64) : (count += 1) {
        const name_bytes = std.mem.readInt(u32, segment[offset..][0..4], .little);
        const description_bytes = std.mem.readInt(u32, segment[offset + 4 ..][0..4], .little);
        const kind = std.mem.readInt(u32, segment[offset + 8 ..][0..4], .little);
        const name_start = offset + 12;
        const description_start = name_start + std.mem.alignForward(usize, name_bytes, 4);
        const next = description_start + std.mem.alignForward(usize, description_bytes, 4);
        if (name_bytes > 64 or description_bytes > 4096 or next > segment.len) return;
        const name = segment[name_start..][0..name_bytes];
        if (std.mem.eql(u8, name, abi_definition.note_name ++ "\x00")) {
            const description = segment[description_start..][0..description_bytes];
            if (kind == abi_definition.note_type_abi_version and description.len >= 6) {
                notes.abi = .{
                    .major = std.mem.readInt(u16, description[0..2], .little),
                    .minor = std.mem.readInt(u16, description[2..4], .little),
                    .patch = std.mem.readInt(u16, description[4..6], .little),
                };
            }
            if (kind == abi_definition.note_type_thread_pointer) notes.sets_thread_pointer = true;
        }
        offset = next;
    }
}

const DynamicInfo = struct {
    rela: u64 = 0,
    rela_bytes: u64 = 0,
    rela_entry_bytes: u64 = @sizeOf(elf.Elf64_Rela),
    relr: u64 = 0,
    relr_bytes: u64 = 0,
};

const dynamic_entries_max = 256;
const DT_RELR = 36;
const DT_RELRSZ = 35;

fn relocate(image: []u8, base: u64, dynamic: elf.Elf64_Phdr) Error!void {
    if (dynamic.p_vaddr > image.len or
        dynamic.p_memsz > image.len - dynamic.p_vaddr) return error.BadDynamicSection;
    const count = @min(dynamic.p_memsz / @sizeOf(elf.Elf64_Dyn), dynamic_entries_max);
    var info: DynamicInfo = .{};
    for (0..count) |index| {
        const entry = std.mem.bytesToValue(
            elf.Elf64_Dyn,
            image[dynamic.p_vaddr + index * @sizeOf(elf.Elf64_Dyn) ..][0..@sizeOf(elf.Elf64_Dyn)],
        );
        switch (entry.d_tag) {
            elf.DT_NULL => break,
            elf.DT_NEEDED => return error.DynamicallyLinked,
            elf.DT_RELA => info.rela = entry.d_val,
            elf.DT_RELASZ => info.rela_bytes = entry.d_val,
            elf.DT_RELAENT => info.rela_entry_bytes = entry.d_val,
            DT_RELR => info.relr = entry.d_val,
            DT_RELRSZ => info.relr_bytes = entry.d_val,
            elf.DT_REL, elf.DT_RELSZ => return error.UnsupportedRelocation,
            else => {},
        }
    }
    try apply_rela(image, base, info);
    try apply_relr(image, base, info);
}

fn apply_rela(image: []u8, base: u64, info: DynamicInfo) Error!void {
    if (info.rela_bytes == 0) return;
    if (info.rela_entry_bytes != @sizeOf(elf.Elf64_Rela)) return error.BadDynamicSection;
    if (info.rela > image.len or
        info.rela_bytes > image.len - info.rela) return error.BadDynamicSection;
    const count = info.rela_bytes / @sizeOf(elf.Elf64_Rela);
    for (0..count) |index| {
        const rela = std.mem.bytesToValue(
            elf.Elf64_Rela,
            image[info.rela + index * @sizeOf(elf.Elf64_Rela) ..][0..@sizeOf(elf.Elf64_Rela)],
        );
        switch (rela.r_type()) {
            @intFromEnum(elf.R_X86_64.NONE) => {},
            @intFromEnum(elf.R_X86_64.RELATIVE) => {
                if (rela.r_offset > image.len - 8) return error.BadRelocation;
                const value = base +% @as(u64, @bitCast(rela.r_addend));
                std.mem.writeInt(u64, image[rela.r_offset..][0..8], value, .little);
            },
            else => return error.UnsupportedRelocation,
        }
    }
}

/// RELR: a compact list of relative relocations. An even word is an address to relocate (and
/// the start of a run); an odd word is a bitmap of the next 63 words after the last address.
fn apply_relr(image: []u8, base: u64, info: DynamicInfo) Error!void {
    if (info.relr_bytes == 0) return;
    if (info.relr > image.len or
        info.relr_bytes > image.len - info.relr) return error.BadDynamicSection;
    var where: u64 = 0;
    for (0..info.relr_bytes / 8) |index| {
        const word = std.mem.readInt(u64, image[info.relr + index * 8 ..][0..8], .little);
        if (word & 1 == 0) {
            try add_base(image, word, base);
            where = word + 8;
            continue;
        }
        var bits = word >> 1;
        var slot: u64 = 0;
        while (bits != 0 and slot < 63) : ({
            bits >>= 1;
            slot += 1;
        }) {
            if (bits & 1 != 0) try add_base(image, where + slot * 8, base);
        }
        where += 63 * 8;
    }
}

fn add_base(image: []u8, offset: u64, base: u64) Error!void {
    if (offset > image.len - 8) return error.BadRelocation;
    const value = std.mem.readInt(u64, image[offset..][0..8], .little);
    std.mem.writeInt(u64, image[offset..][0..8], value +% base, .little);
}

/// The first task's stack for a PT_GNU_STACK request: the default for none (0), whole pages,
/// at least a spawned task's stack, at most the max (a larger request is not an error: Zig and
/// LLD ask for 16 MiB by default).
pub fn stack_request(asked_bytes: u64) u64 {
    if (asked_bytes == 0) return constants.main_task_stack_bytes_default;
    const bounded = std.math.clamp(
        asked_bytes,
        constants.task_stack_bytes,
        constants.main_task_stack_bytes_max,
    );
    const result = std.mem.alignForward(u64, bounded, page_bytes);
    assert(result <= constants.main_task_stack_bytes_max);
    return result;
}

// ---- Tests: a small static PIE built by hand. ----------------------------------------------

const testing = std.testing;

/// One RX segment with the entry, one RW segment holding a pointer to relocate, the dynamic
/// section with one RELA entry, and the ukernel ABI note.
fn test_image(buffer: *[8192]u8, relocation_type: u32) []u8 {
    @memset(buffer, 0);
    var header = std.mem.zeroes(elf.Elf64_Ehdr);
    @memcpy(header.e_ident[0..4], elf.MAGIC);
    header.e_ident[elf.EI_CLASS] = elf.ELFCLASS64;
    header.e_ident[elf.EI_DATA] = elf.ELFDATA2LSB;
    header.e_type = .DYN;
    header.e_machine = .X86_64;
    header.e_entry = 0x1000;
    header.e_phoff = 64;
    header.e_phentsize = @sizeOf(elf.Elf64_Phdr);
    header.e_phnum = 4;
    @memcpy(buffer[0..64], std.mem.asBytes(&header));
    const phdrs = [_]elf.Elf64_Phdr{
        test_segment(elf.PT_LOAD, elf.PF_R | elf.PF_X, 0x1000, 0x1000, 16, 16, 4096),
        test_segment(elf.PT_LOAD, elf.PF_R | elf.PF_W, 0x1800, 0x2000, 0x100, 0x2000, 4096),
        test_segment(elf.PT_DYNAMIC, elf.PF_R, 0x1840, 0x2040, 64, 64, 8),
        test_segment(elf.PT_NOTE, elf.PF_R, 0x400, 0x400, 28, 28, 4),
    };
    @memcpy(buffer[64..][0 .. 4 * @sizeOf(elf.Elf64_Phdr)], std.mem.sliceAsBytes(&phdrs));
    @memcpy(
        buffer[0x400..][0..28],
        "\x08\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00" ++
            "ukernel\x00\x00\x00\x01\x00\x02\x00\x00\x00",
    );
    @memcpy(buffer[0x1000..][0..2], "\xc3\x90"); // ret; nop
    // Dynamic: DT_RELA 0x2080, DT_RELASZ 24, DT_RELAENT 24, DT_NULL.
    const dynamic = [_]elf.Elf64_Dyn{
        .{ .d_tag = elf.DT_RELA, .d_val = 0x2080 },
        .{ .d_tag = elf.DT_RELASZ, .d_val = 24 },
        .{ .d_tag = elf.DT_RELAENT, .d_val = 24 },
        .{ .d_tag = elf.DT_NULL, .d_val = 0 },
    };
    @memcpy(buffer[0x1840..][0..64], std.mem.sliceAsBytes(&dynamic));
    const rela: elf.Elf64_Rela = .{
        .r_offset = 0x2010,
        .r_info = relocation_type,
        .r_addend = 0x1000,
    };
    @memcpy(buffer[0x1880..][0..24], std.mem.asBytes(&rela));
    return buffer[0..0x1900];
}

/// A program header whose physical address is its virtual one.
fn test_segment(
    kind: u32,
    flags: u32,
    offset: u64,
    address: u64,
    file_bytes: u64,
    memory_bytes: u64,
    alignment: u64,
) elf.Elf64_Phdr {
    return .{
        .p_type = kind,
        .p_flags = flags,
        .p_offset = offset,
        .p_vaddr = address,
        .p_paddr = address,
        .p_filesz = file_bytes,
        .p_memsz = memory_bytes,
        .p_align = alignment,
    };
}

test "loads, relocates and reads the ABI note" {
    var buffer: [8192]u8 = undefined;
    const file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    const layout = try inspect(file);
    try testing.expectEqual(@as(u64, 0x4000), layout.span_bytes);
    try testing.expectEqual(AbiVersion{ .major = 0, .minor = 1, .patch = 2 }, layout.abi.?);
    var destination: [0x4000]u8 align(4096) = .{0} ** 0x4000;
    const entry = try load(file, layout, &destination);
    const base = @intFromPtr(&destination);
    try testing.expectEqual(base + 0x1000, entry);
    try testing.expectEqual(@as(u8, 0xc3), destination[0x1000]);
    try testing.expectEqual(
        base + 0x1000,
        std.mem.readInt(u64, destination[0x2010..][0..8], .little),
    );
    try testing.expectEqual(@as(u8, 0), destination[0x3000]); // bss zeroed
}

test "refuses what it cannot run" {
    var buffer: [8192]u8 = undefined;
    var file = test_image(&buffer, @intFromEnum(elf.R_X86_64.@"64"));
    const layout = try inspect(file);
    var destination: [0x4000]u8 align(4096) = .{0} ** 0x4000;
    try testing.expectError(error.UnsupportedRelocation, load(file, layout, &destination));

    file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    file[16] = @intFromEnum(elf.ET.EXEC);
    try testing.expectError(error.NotPositionIndependent, inspect(file));
    file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    file[18] = 3; // EM_386
    try testing.expectError(error.NotX86_64, inspect(file));
    file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    try testing.expectError(error.NotElf, inspect(file[0..10]));
    try testing.expectError(error.BadSegment, inspect(file[0..0x1801]));
    file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    std.mem.writeInt(u64, file[24..32], 0x2000, .little); // entry in a non-executable segment
    try testing.expectError(error.BadEntry, inspect(file));
    file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    std.mem.writeInt(u32, file[64 + 56 * 3 ..][0..4], elf.PT_INTERP, .little);
    try testing.expectError(error.DynamicallyLinked, inspect(file));
}

test "relr relocations" {
    var image = [_]u8{0} ** 1024;
    std.mem.writeInt(u64, image[0x10..][0..8], 0x100, .little);
    std.mem.writeInt(u64, image[0x20..][0..8], 0x200, .little);
    std.mem.writeInt(u64, image[0x28..][0..8], 0x300, .little);
    // relr at 0x200: address 0x10, then bitmap: bits for 0x18+8*1 (0x20) and 0x18+8*2 (0x28).
    std.mem.writeInt(u64, image[0x200..][0..8], 0x10, .little);
    std.mem.writeInt(u64, image[0x208..][0..8], (0b110 << 1) | 1, .little);
    try apply_relr(&image, 0x1000, .{ .relr = 0x200, .relr_bytes = 16 });
    try testing.expectEqual(@as(u64, 0x1100), std.mem.readInt(u64, image[0x10..][0..8], .little));
    try testing.expectEqual(@as(u64, 0x1200), std.mem.readInt(u64, image[0x20..][0..8], .little));
    try testing.expectEqual(@as(u64, 0x1300), std.mem.readInt(u64, image[0x28..][0..8], .little));
}

test "a TLS segment needs the note saying the workload sets its thread pointer" {
    var buffer: [8192]u8 = undefined;
    const file = test_image(&buffer, @intFromEnum(elf.R_X86_64.RELATIVE));
    // A fifth program header: PT_TLS inside the RW segment.
    const phdr_bytes = @sizeOf(elf.Elf64_Phdr);
    const tls = test_segment(elf.PT_TLS, elf.PF_R, 0x1800, 0x2000, 8, 32, 8);
    @memcpy(file[64 + 4 * phdr_bytes ..][0..phdr_bytes], std.mem.asBytes(&tls));
    std.mem.writeInt(u16, file[56..58], 5, .little); // e_phnum
    try testing.expectError(error.ThreadLocalStorageUnsupported, inspect(file));
    // A second "ukernel" note of type 2, empty description, after the version note.
    @memcpy(file[0x41c..][0..20], "\x08\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00ukernel\x00");
    const note = test_segment(elf.PT_NOTE, elf.PF_R, 0x400, 0x400, 48, 48, 4);
    @memcpy(file[64 + 3 * phdr_bytes ..][0..phdr_bytes], std.mem.asBytes(&note));
    const layout = try inspect(file);
    try testing.expectEqual(AbiVersion{ .major = 0, .minor = 1, .patch = 2 }, layout.abi.?);
}

test "the first task's stack: the default for no request, whole pages, within bounds" {
    try testing.expectEqual(constants.main_task_stack_bytes_default, stack_request(0));
    try testing.expectEqual(constants.task_stack_bytes, stack_request(1));
    try testing.expectEqual(@as(u64, 8 << 20), stack_request(8 << 20));
    try testing.expectEqual(@as(u64, (1 << 20) + 4096), stack_request((1 << 20) + 1));
    try testing.expectEqual(constants.main_task_stack_bytes_max, stack_request(16 << 20));
    try testing.expectEqual(constants.main_task_stack_bytes_max, stack_request(1 << 63));
}
