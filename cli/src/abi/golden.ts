// Golden files (tests/fixtures/): bytes made by the CLI's writers from fixed inputs, committed,
// and read by both the kernel's unit tests (kernel/src/abi/golden_test.zig) and the CLI's
// (golden.test.ts). When a writer's output changes, both sides notice: regenerate them with
//   UKERNEL_UPDATE_GOLDEN=1 npx vitest run cli/src/abi/golden.test.ts
// and review the diff (docs/contracts.md).
import { ABI_MAJOR, ABI_MINOR, ABI_PATCH, ABI_VERSION } from './abi.js';
import { renderManifest } from '../image/manifest.js';
import { writeImage, type ImageInput } from '../image/writer.js';
import { encodeEventsFile, type BlockSpec } from '../observe/fixtures.js';

export const GOLDEN_IMAGE_PATH = 'tests/fixtures/golden.ukimg';
export const GOLDEN_EVENTS_PATH = 'tests/fixtures/golden.events';

/** A minimal ELF64 x86-64 file with one PT_LOAD and a PT_NOTE: `type` 2 (ET_EXEC) for the
 *  kernel section, 3 (ET_DYN) for the workload. 176 bytes, the same every time; the image
 *  format does not look inside either (the CLI checks a real kernel before packing it). */
export function goldenElf(type: 2 | 3, entry: bigint): Buffer {
  const elf = Buffer.alloc(64 + 56 * 2);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  elf.writeUInt16LE(type, 16);
  elf.writeUInt16LE(0x3e, 18);
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(entry, 24);
  elf.writeBigUInt64LE(64n, 32);
  elf.writeUInt16LE(64, 52);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(2, 56);
  elf.writeUInt32LE(1, 64); // PT_LOAD
  elf.writeUInt32LE(4, 64 + 56); // PT_NOTE
  return elf;
}

/** What tests/fixtures/golden.ukimg is made from. */
export function goldenImageInput(): ImageInput {
  return {
    kernel: goldenElf(2, 0x100000n),
    files: [
      { path: 'bin', kind: 'directory', mode: 0o755, data: Buffer.alloc(0) },
      { path: 'bin/main', kind: 'file', mode: 0o755, data: goldenElf(3, 0x1000n) },
      { path: 'etc/ukernel.env', kind: 'file', mode: 0o644, data: Buffer.from('GREETING=hello\n') },
    ],
    manifest: renderManifest({
      abi: ABI_VERSION,
      adapter: 'native',
      build: { optimize: 'ReleaseSafe', zig: '0.15.2' },
      created: '1970-01-01T00:00:00Z',
      entry: 'bin/main',
      lock: null,
      name: 'golden',
      ukernel: '0.1.0',
    }),
    abi: [ABI_MAJOR, ABI_MINOR, ABI_PATCH],
    readonly: true,
    adapter: 'native',
    entry: 'bin/main',
    name: 'golden',
  };
}

/** The kernel record in the golden events file (the kernel writes it in a text record). */
export const GOLDEN_KERNEL_LINE = '@uk:exit v=1 status=0 reason=return events_dropped=0 events_failed=0 interrupts_unexpected=0';
/** The workload's console output in it, split over two records of task 1. */
export const GOLDEN_CONSOLE_TEXT = ['hello, ', 'golden\n'] as const;

/** What tests/fixtures/golden.events is made from: two blocks, every record kind. */
export function goldenEventsBlocks(): BlockSpec[] {
  return [
    {
      flushNs: 4_000_000,
      records: [
        { kind: 'log', task: 1, tNs: 1_000_000, level: 1, message: 'started', fields: [['port', '8080']] },
        { kind: 'begin', task: 1, tNs: 1_500_000, span: 1n, name: 'work' },
        { kind: 'output', task: 1, tNs: 2_000_000, text: GOLDEN_CONSOLE_TEXT[0] },
        { kind: 'event', task: 1, tNs: 2_500_000, value: 42n, name: 'items' },
        { kind: 'end', task: 1, tNs: 3_000_000, span: 1n },
      ],
    },
    {
      final: true,
      dropped: 0,
      flushNs: 5_500_000,
      records: [
        { kind: 'output', task: 1, tNs: 4_500_000, text: GOLDEN_CONSOLE_TEXT[1] },
        { kind: 'kernel', task: 0, tNs: 5_000_000, text: GOLDEN_KERNEL_LINE },
      ],
    },
  ];
}

export function goldenImage(): Buffer {
  return writeImage(goldenImageInput());
}

export function goldenEvents(): Buffer {
  return encodeEventsFile(goldenEventsBlocks());
}
