//! SHA-256 (FIPS 180-4), for verifying the image: its header, its rootfs index and every file
//! the kernel reads. Two paths, the same digests (the host tests check both against std):
//! - the x86 SHA extensions (SHA-NI) when the CPU has them (CPUID leaf 7 EBX bit 29, with SSSE3
//!   and SSE4.1): ~2 GB/s here, so loading the 7.2 MB Python adapter hashes in ~4 ms instead of
//!   ~24 ms, 75 % of kernel entry → workload start before (bench/python/README.md);
//! - scalar code otherwise. Why not std.crypto.hash.sha2: the kernel is built without SSE (ring
//!   0 is emulated without it under nested KVM), and std's generic path then runs at ~28 MB/s on
//!   this machine (553 µs for a 15 KiB workload, most of entry → main); this one runs at ~330
//!   MB/s with the same flags.
//! The SHA-NI path uses xmm0–xmm10 although the kernel is built soft-float, which is safe
//! because of where hashing runs: in ring 3 (where SSE runs natively; CR4.OSFXSR is set at
//! boot), before the workload starts or inside an ABI call (reading a file), never in an
//! interrupt handler. The kernel's own code keeps nothing in XMM registers, and the System V
//! ABI makes every XMM register caller-saved, so a workload holds none live across a call.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("../arch/x86_64/cpu.zig");

pub const digest_bytes = 32;
const block_bytes = 64;

/// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
/// 64 primes.
const round_constants = [64]u32{
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/// FIPS 180-4, 5.3.3: the initial hash value.
const initial_state = [8]u32{
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/// The digest of `bytes` into `out`.
pub fn hash(bytes: []const u8, out: *[digest_bytes]u8) void {
    var hasher: Hasher = .{};
    hasher.update(bytes);
    hasher.final(out);
}

/// A digest fed in pieces (the root of a file's block hashes, computed block by block).
pub const Hasher = struct {
    state: [8]u32 = initial_state,
    /// Bytes of a block not yet compressed.
    pending: [block_bytes]u8 = undefined,
    pending_bytes: usize = 0,
    total_bytes: u64 = 0,

    pub fn update(hasher: *Hasher, bytes: []const u8) void {
        assert(hasher.pending_bytes < block_bytes);
        var offset: usize = 0;
        if (hasher.pending_bytes > 0) {
            offset = @min(bytes.len, block_bytes - hasher.pending_bytes);
            @memcpy(hasher.pending[hasher.pending_bytes..][0..offset], bytes[0..offset]);
            hasher.pending_bytes += offset;
            if (hasher.pending_bytes < block_bytes) {
                hasher.total_bytes += bytes.len;
                return;
            }
            compress(&hasher.state, &hasher.pending);
            hasher.pending_bytes = 0;
        }
        const whole = offset + (bytes.len - offset) / block_bytes * block_bytes;
        compress_blocks(&hasher.state, bytes[offset..whole]);
        const rest = bytes.len - whole;
        @memcpy(hasher.pending[0..rest], bytes[whole..]);
        hasher.pending_bytes = rest;
        hasher.total_bytes += bytes.len;
        assert(hasher.pending_bytes < block_bytes);
    }

    /// The padding (0x80, zeros, the length in bits, in one or two blocks), then the digest.
    pub fn final(hasher: *Hasher, out: *[digest_bytes]u8) void {
        assert(hasher.pending_bytes < block_bytes);
        var tail: [2 * block_bytes]u8 = @splat(0);
        const rest = hasher.pending_bytes;
        @memcpy(tail[0..rest], hasher.pending[0..rest]);
        tail[rest] = 0x80;
        const tail_blocks: usize = if (rest < block_bytes - 8) 1 else 2;
        const length_bits = hasher.total_bytes * 8;
        std.mem.writeInt(u64, tail[tail_blocks * block_bytes - 8 ..][0..8], length_bits, .big);
        compress_blocks(&hasher.state, tail[0 .. tail_blocks * block_bytes]);
        for (hasher.state, 0..) |word, index| {
            std.mem.writeInt(u32, out[index * 4 ..][0..4], word, .big);
        }
    }
};

/// Compresses `blocks` (a whole number of 64-byte blocks) into `state`, with the SHA extensions
/// when the CPU has them.
fn compress_blocks(state: *[8]u32, blocks: []const u8) void {
    assert(blocks.len % block_bytes == 0);
    if (blocks.len == 0) return;
    if (sha_extensions_present()) return compress_sha_extensions(state, blocks);
    var offset: usize = 0;
    while (offset < blocks.len) : (offset += block_bytes) {
        compress(state, blocks[offset..][0..block_bytes]);
    }
}

/// Whether the CPU has SHA-NI (CPUID.7.0:EBX bit 29), SSSE3 (CPUID.1:ECX bit 9: pshufb,
/// palignr) and SSE4.1 (bit 19: pblendw). Asked once: CPUID is a VM exit (~15 µs here).
fn sha_extensions_present() bool {
    if (sha_extensions == .unknown) {
        const leaf_max = cpu.cpuid(0, 0).eax;
        const ssse3_sse41: u32 = (1 << 9) | (1 << 19);
        const present = leaf_max >= 7 and cpu.cpuid(7, 0).ebx & (1 << 29) != 0 and
            cpu.cpuid(1, 0).ecx & ssse3_sse41 == ssse3_sse41;
        sha_extensions = if (present) .present else .absent;
    }
    return sha_extensions == .present;
}

var sha_extensions: enum(u8) { unknown, present, absent } = .unknown;

/// pshufb mask turning each big-endian message word into a little-endian lane.
const byte_swap_mask align(16) = [16]u8{ 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12 };

/// The 64 rounds of one block as SHA-NI instructions, four rounds per step: xmm0 the message
/// words plus constants, xmm1 the state's ABEF, xmm2 its CDGH, xmm3–xmm6 the message schedule
/// (a ring of four), xmm7 scratch, xmm8 the byte-swap mask. The order is Intel's (the SHA
/// extensions paper, 2013; Linux arch/x86/crypto/sha256_ni_asm.S): sha256msg1 from step 1 to 12,
/// palignr + paddd + sha256msg2 from step 3 to 14.
const sha_extension_rounds: []const u8 = rounds: {
    @setEvalBranchQuota(100_000);
    const w = [4][]const u8{ "%%xmm3", "%%xmm4", "%%xmm5", "%%xmm6" };
    var text: []const u8 = "";
    for (0..16) |step| {
        const m = w[step % 4];
        const next = w[(step + 1) % 4];
        const previous = w[(step + 3) % 4];
        if (step < 4) text = text ++ std.fmt.comptimePrint(
            "movdqu {d}(%[data]), {s}\npshufb %%xmm8, {s}\n",
            .{ 16 * step, m, m },
        );
        text = text ++ std.fmt.comptimePrint(
            "movdqu {d}(%[k]), %%xmm0\npaddd {s}, %%xmm0\nsha256rnds2 %%xmm0, %%xmm1, %%xmm2\n",
            .{ 16 * step, m },
        );
        if (step >= 3 and step <= 14) text = text ++ std.fmt.comptimePrint(
            "movdqa {s}, %%xmm7\npalignr $4, {s}, %%xmm7\npaddd %%xmm7, {s}\n" ++
                "sha256msg2 {s}, {s}\n",
            .{ m, previous, next, m, next },
        );
        text = text ++ "pshufd $0x0E, %%xmm0, %%xmm0\nsha256rnds2 %%xmm0, %%xmm2, %%xmm1\n";
        if (step >= 1 and step <= 12) {
            text = text ++ std.fmt.comptimePrint("sha256msg1 {s}, {s}\n", .{ m, previous });
        }
    }
    break :rounds text;
};

/// What compress_sha_extensions writes besides its outputs.
const sha_extension_clobbers: std.builtin.assembly.Clobbers = .{
    .memory = true,
    .cc = true,
    .xmm0 = true,
    .xmm1 = true,
    .xmm2 = true,
    .xmm3 = true,
    .xmm4 = true,
    .xmm5 = true,
    .xmm6 = true,
    .xmm7 = true,
    .xmm8 = true,
    .xmm9 = true,
    .xmm10 = true,
};

/// compress_blocks with the SHA extensions: the state is shuffled into ABEF/CDGH once, every
/// block runs the 64 rounds and adds the saved state (xmm9, xmm10), then the state is shuffled
/// back.
fn compress_sha_extensions(state: *[8]u32, blocks: []const u8) void {
    assert(blocks.len % block_bytes == 0 and blocks.len > 0);
    var data = blocks.ptr;
    var count: u64 = blocks.len / block_bytes;
    asm volatile (
        \\movdqu (%[state]), %%xmm7
        \\movdqu 16(%[state]), %%xmm2
        \\movdqa (%[mask]), %%xmm8
        \\pshufd $0xB1, %%xmm7, %%xmm7
        \\pshufd $0x1B, %%xmm2, %%xmm2
        \\movdqa %%xmm7, %%xmm1
        \\palignr $8, %%xmm2, %%xmm1
        \\pblendw $0xF0, %%xmm7, %%xmm2
        \\1:
        \\movdqa %%xmm1, %%xmm9
        \\movdqa %%xmm2, %%xmm10
        \\
    ++ sha_extension_rounds ++
        \\paddd %%xmm9, %%xmm1
        \\paddd %%xmm10, %%xmm2
        \\add $64, %[data]
        \\dec %[count]
        \\jnz 1b
        \\pshufd $0x1B, %%xmm1, %%xmm7
        \\pshufd $0xB1, %%xmm2, %%xmm2
        \\movdqa %%xmm7, %%xmm1
        \\pblendw $0xF0, %%xmm2, %%xmm1
        \\palignr $8, %%xmm7, %%xmm2
        \\movdqu %%xmm1, (%[state])
        \\movdqu %%xmm2, 16(%[state])
    : [data] "+r" (data),
      [count] "+r" (count),
    : [state] "r" (state),
      [mask] "r" (&byte_swap_mask),
      [k] "r" (&round_constants),
    : sha_extension_clobbers);
    assert(count == 0);
}

fn compress(state: *[8]u32, block: *const [block_bytes]u8) void {
    var schedule: [64]u32 = undefined;
    for (0..16) |index| {
        schedule[index] = std.mem.readInt(u32, block[index * 4 ..][0..4], .big);
    }
    for (16..64) |index| {
        const w15 = schedule[index - 15];
        const w2 = schedule[index - 2];
        const sigma0 = std.math.rotr(u32, w15, 7) ^ std.math.rotr(u32, w15, 18) ^ (w15 >> 3);
        const sigma1 = std.math.rotr(u32, w2, 17) ^ std.math.rotr(u32, w2, 19) ^ (w2 >> 10);
        schedule[index] = schedule[index - 16] +% sigma0 +% schedule[index - 7] +% sigma1;
    }
    var v = state.*;
    for (round_constants, schedule) |constant, word| {
        const e = v[4];
        const sum1 = std.math.rotr(u32, e, 6) ^ std.math.rotr(u32, e, 11) ^
            std.math.rotr(u32, e, 25);
        const choice = (e & v[5]) ^ (~e & v[6]);
        const t1 = v[7] +% sum1 +% choice +% constant +% word;
        const a = v[0];
        const sum0 = std.math.rotr(u32, a, 2) ^ std.math.rotr(u32, a, 13) ^
            std.math.rotr(u32, a, 22);
        const majority = (a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]);
        // A new array, then the copy: assigning the literal to v would write v while reading it.
        const next: [8]u32 = .{ t1 +% sum0 +% majority, a, v[1], v[2], v[3] +% t1, e, v[5], v[6] };
        v = next;
    }
    for (state, v) |*word, value| word.* +%= value;
}

test "sha256 matches std for every padding case and random data" {
    var bytes: [1000]u8 = undefined;
    var random = std.Random.DefaultPrng.init(7);
    random.fill(&bytes);
    const lengths = [_]usize{ 0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 999, 1000 };
    for (lengths) |length| {
        var ours: [digest_bytes]u8 = undefined;
        var theirs: [digest_bytes]u8 = undefined;
        hash(bytes[0..length], &ours);
        std.crypto.hash.sha2.Sha256.hash(bytes[0..length], &theirs, .{});
        try std.testing.expectEqualSlices(u8, &theirs, &ours);
    }
}

test "sha256 fed in pieces matches the one-shot digest, for every split" {
    var bytes: [300]u8 = undefined;
    var random = std.Random.DefaultPrng.init(11);
    random.fill(&bytes);
    var whole: [digest_bytes]u8 = undefined;
    hash(&bytes, &whole);
    var theirs: [digest_bytes]u8 = undefined;
    std.crypto.hash.sha2.Sha256.hash(&bytes, &theirs, .{});
    try std.testing.expectEqualSlices(u8, &theirs, &whole);
    var first: usize = 0;
    while (first <= bytes.len) : (first += 7) {
        var hasher: Hasher = .{};
        hasher.update(bytes[0..first]);
        const second = first + (bytes.len - first) / 2;
        hasher.update(bytes[first..second]);
        hasher.update(bytes[second..]);
        var pieces: [digest_bytes]u8 = undefined;
        hasher.final(&pieces);
        try std.testing.expectEqualSlices(u8, &whole, &pieces);
    }
}

test "the SHA-extension path and the scalar path give the same state, 1 to 40 blocks" {
    if (!sha_extensions_present()) return error.SkipZigTest;
    var bytes: [40 * block_bytes]u8 = undefined;
    var random = std.Random.DefaultPrng.init(13);
    random.fill(&bytes);
    for (1..41) |count| {
        var scalar = initial_state;
        for (0..count) |index| compress(&scalar, bytes[index * block_bytes ..][0..block_bytes]);
        var extensions = initial_state;
        compress_sha_extensions(&extensions, bytes[0 .. count * block_bytes]);
        try std.testing.expectEqualSlices(u32, &scalar, &extensions);
    }
}

test "sha256 of \"abc\" is the FIPS 180-4 example" {
    var digest: [digest_bytes]u8 = undefined;
    hash("abc", &digest);
    var expected: [digest_bytes]u8 = undefined;
    const hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    _ = try std.fmt.hexToBytes(&expected, hex);
    try std.testing.expectEqualSlices(u8, &expected, &digest);
}
