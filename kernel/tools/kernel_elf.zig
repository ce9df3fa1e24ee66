//! Host tool run by build.zig on the linked kernel.
//!
//!   kernel_elf symbols KERNEL.elf OUT.bin  the function symbols of KERNEL as a symbol table blob
//!   kernel_elf verify  KERNEL.elf          checks the boot-protocol rules of the image and that
//!                                          the embedded .uksyms table matches the ELF's symbols
//!   kernel_elf strip   KERNEL.elf OUT.elf  keeps only what loaders read: the ELF header, the
//!                                          program headers and the segments' bytes
//!
//! Boot-protocol rules (docs/architecture.md): ELF64 x86_64; e_entry and every PT_LOAD p_paddr
//! at or above 1 MiB; exactly one PT_NOTE, holding the Xen PVH entry note (type 18).

const std = @import("std");
const elf = std.elf;
const symbol_table = @import("symbol_table");

const himem_start: u64 = 0x10_0000;
const file_bytes_max: usize = 64 << 20;

pub fn main() !void {
    var arena_state = std.heap.ArenaAllocator.init(std.heap.page_allocator);
    defer arena_state.deinit();
    const arena = arena_state.allocator();
    const arguments = try std.process.argsAlloc(arena);
    if (arguments.len == 4 and std.mem.eql(u8, arguments[1], "strip")) {
        const image = try std.fs.cwd().readFileAlloc(arena, arguments[2], file_bytes_max);
        const stripped = strip(image) catch |err| {
            std.debug.print("kernel_elf strip {s}: {s}\n", .{ arguments[2], @errorName(err) });
            std.process.exit(1);
        };
        try std.fs.cwd().writeFile(.{ .sub_path = arguments[3], .data = stripped });
        return;
    }
    if (arguments.len == 4 and std.mem.eql(u8, arguments[1], "symbols")) {
        const image = try std.fs.cwd().readFileAlloc(arena, arguments[2], file_bytes_max);
        const blob = try generate(arena, image);
        try std.fs.cwd().writeFile(.{ .sub_path = arguments[3], .data = blob });
        return;
    }
    if (arguments.len == 3 and std.mem.eql(u8, arguments[1], "verify")) {
        const image = try std.fs.cwd().readFileAlloc(arena, arguments[2], file_bytes_max);
        verify(arena, image) catch |err| {
            std.debug.print("kernel_elf verify {s}: {s}\n", .{ arguments[2], @errorName(err) });
            std.process.exit(1);
        };
        return;
    }
    std.debug.print("usage: kernel_elf symbols|strip KERNEL OUT | kernel_elf verify KERNEL\n", .{});
    std.process.exit(2);
}

const Image = struct {
    bytes: []const u8,
    header: elf.Elf64_Ehdr,

    fn init(bytes: []const u8) !Image {
        if (bytes.len < @sizeOf(elf.Elf64_Ehdr)) return error.NotElf;
        if (!std.mem.eql(u8, bytes[0..4], elf.MAGIC)) return error.NotElf;
        if (bytes[elf.EI_CLASS] != elf.ELFCLASS64) return error.NotElf64;
        const header = std.mem.bytesToValue(elf.Elf64_Ehdr, bytes[0..@sizeOf(elf.Elf64_Ehdr)]);
        if (header.e_machine != .X86_64) return error.NotX86_64;
        return .{ .bytes = bytes, .header = header };
    }

    fn program_header(image: Image, index: usize) !elf.Elf64_Phdr {
        const offset = image.header.e_phoff + index * @sizeOf(elf.Elf64_Phdr);
        if (offset + @sizeOf(elf.Elf64_Phdr) > image.bytes.len) return error.Truncated;
        return std.mem.bytesToValue(
            elf.Elf64_Phdr,
            image.bytes[offset..][0..@sizeOf(elf.Elf64_Phdr)],
        );
    }

    fn section_header(image: Image, index: usize) !elf.Elf64_Shdr {
        const offset = image.header.e_shoff + index * @sizeOf(elf.Elf64_Shdr);
        if (offset + @sizeOf(elf.Elf64_Shdr) > image.bytes.len) return error.Truncated;
        return std.mem.bytesToValue(
            elf.Elf64_Shdr,
            image.bytes[offset..][0..@sizeOf(elf.Elf64_Shdr)],
        );
    }

    fn section_bytes(image: Image, section: elf.Elf64_Shdr) ![]const u8 {
        if (section.sh_offset + section.sh_size > image.bytes.len) return error.Truncated;
        return image.bytes[section.sh_offset..][0..section.sh_size];
    }

    fn section_by_name(image: Image, name: []const u8) !elf.Elf64_Shdr {
        const names = try image.section_bytes(try image.section_header(image.header.e_shstrndx));
        for (0..image.header.e_shnum) |index| {
            const section = try image.section_header(index);
            if (section.sh_name >= names.len) return error.BadSectionName;
            if (std.mem.eql(u8, std.mem.sliceTo(names[section.sh_name..], 0), name)) return section;
        }
        return error.SectionMissing;
    }
};

fn generate(allocator: std.mem.Allocator, bytes: []const u8) ![]u8 {
    const image = try Image.init(bytes);
    const symtab = try image.section_by_name(".symtab");
    const strtab = try image.section_header(symtab.sh_link);
    const strings = try image.section_bytes(strtab);
    const raw = try image.section_bytes(symtab);
    var symbols: std.ArrayList(symbol_table.InputSymbol) = .empty;
    var offset: usize = 0;
    while (offset + @sizeOf(elf.Elf64_Sym) <= raw.len) : (offset += @sizeOf(elf.Elf64_Sym)) {
        const symbol = std.mem.bytesToValue(
            elf.Elf64_Sym,
            raw[offset..][0..@sizeOf(elf.Elf64_Sym)],
        );
        if (symbol.st_info & 0xf != elf.STT_FUNC) continue;
        if (symbol.st_value == 0 or symbol.st_name >= strings.len) continue;
        try symbols.append(allocator, .{
            .address = symbol.st_value,
            .size = symbol.st_size,
            .name = without_anonymous_suffix(std.mem.sliceTo(strings[symbol.st_name..], 0)),
        });
    }
    if (symbols.items.len == 0) return error.NoFunctionSymbols;
    return symbol_table.encode(allocator, symbols.items);
}

/// Zig names generic instantiations `name__anon_1234`; the number is not stable between the two
/// links (and means nothing to a reader), so it is dropped.
fn without_anonymous_suffix(name: []const u8) []const u8 {
    const marker = "__anon_";
    const index = std.mem.lastIndexOf(u8, name, marker) orelse return name;
    for (name[index + marker.len ..]) |character| {
        if (!std.ascii.isDigit(character)) return name;
    }
    return name[0..index];
}

fn verify(allocator: std.mem.Allocator, bytes: []const u8) !void {
    const image = try Image.init(bytes);
    if (image.header.e_entry < himem_start) return error.EntryBelowOneMiB;
    var notes: u32 = 0;
    for (0..image.header.e_phnum) |index| {
        const segment = try image.program_header(index);
        if (segment.p_type == elf.PT_LOAD and
            segment.p_paddr < himem_start) return error.LoadBelowOneMiB;
        if (segment.p_type == elf.PT_NOTE) {
            notes += 1;
            if (segment.p_offset + segment.p_filesz > bytes.len) return error.Truncated;
            try verify_xen_note(bytes[segment.p_offset..][0..segment.p_filesz]);
        }
    }
    if (notes != 1) return error.NotExactlyOneNote;
    const embedded = try image.section_bytes(try image.section_by_name(".uksyms"));
    const expected = try generate(allocator, bytes);
    if (!std.mem.eql(u8, embedded, expected)) return error.EmbeddedSymbolsStale;
}

fn verify_xen_note(note: []const u8) !void {
    if (note.len < 20) return error.NoteTooShort;
    const name_bytes = std.mem.readInt(u32, note[0..4], .little);
    const description_bytes = std.mem.readInt(u32, note[4..8], .little);
    const kind = std.mem.readInt(u32, note[8..12], .little);
    if (name_bytes != 4 or !std.mem.eql(u8, note[12..16], "Xen\x00")) return error.NoteNotXen;
    if (kind != 18 or description_bytes < 4) return error.NoteNotPhys32Entry;
    if (std.mem.readInt(u32, note[16..20], .little) < himem_start) return error.PvhEntryBelowOneMiB;
}

/// Truncates the file after the last byte any segment loads and drops the section headers.
/// Loaders (Firecracker's linux-loader, QEMU's ELF loader) read program headers only.
fn strip(bytes: []u8) ![]u8 {
    const image = try Image.init(bytes);
    var end: u64 = image.header.e_phoff + @as(u64, image.header.e_phnum) * @sizeOf(elf.Elf64_Phdr);
    for (0..image.header.e_phnum) |index| {
        const segment = try image.program_header(index);
        end = @max(end, segment.p_offset + segment.p_filesz);
    }
    if (end > bytes.len) return error.Truncated;
    var header = image.header;
    header.e_shoff = 0;
    header.e_shnum = 0;
    header.e_shstrndx = 0;
    @memcpy(bytes[0..@sizeOf(elf.Elf64_Ehdr)], std.mem.asBytes(&header));
    return bytes[0..end];
}
