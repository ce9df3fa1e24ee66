// The golden files (tests/fixtures/) are what the CLI's writers make of fixed inputs; the kernel's
// unit tests read the same bytes (kernel/src/abi/golden_test.zig). These tests fail when a writer's
// output changes (regenerate: UKERNEL_UPDATE_GOLDEN=1 npx vitest run cli/src/abi/golden.test.ts)
// or when the readers stop accepting what the writers make.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ABI_VERSION } from './abi.js';
import { CONSOLE_PROTOCOL_VERSION, EVENTS_RECORD_KIND, IMAGE_HEADER_OFFSET, IMAGE_SECTION_KIND } from './contracts.js';
import { parseRecordLine } from '../console/records.js';
import { PROVIDED_ABI } from '../image/manifest.js';
import { bufferSource as imageSource, verifyImage } from '../image/reader.js';
import { bufferSource as eventsSource, decodeEvents } from '../observe/events.js';
import {
  GOLDEN_CONSOLE_TEXT,
  GOLDEN_EVENTS_PATH,
  GOLDEN_IMAGE_PATH,
  GOLDEN_KERNEL_LINE,
  goldenEvents,
  goldenImage,
  goldenImageInput,
} from './golden.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The committed file, or (with UKERNEL_UPDATE_GOLDEN=1) `made`, written first. */
function golden(path: string, made: Buffer): Buffer {
  const target = join(root, path);
  if (process.env.UKERNEL_UPDATE_GOLDEN === '1') {
    writeFileSync(`${target}.tmp`, made);
    renameSync(`${target}.tmp`, target);
  }
  return readFileSync(target);
}

describe('golden image', () => {
  const made = goldenImage();
  const file = golden(GOLDEN_IMAGE_PATH, made);

  it('is what the image writer makes of its inputs, byte for byte', () => {
    expect(made.length).toBe(file.length);
    expect(made.equals(file)).toBe(true);
  });

  it('is accepted by the image reader, which finds what went in', () => {
    const info = verifyImage(imageSource(file), GOLDEN_IMAGE_PATH, PROVIDED_ABI);
    const input = goldenImageInput();
    expect(info).toMatchObject({ abi: ABI_VERSION, name: 'golden', entry: 'bin/main', adapter: 'native', readonly: true });
    expect(info.sections.map((s) => s.name)).toEqual(['kernel', 'rootfs', 'manifest']);
    expect(info.files.map((f) => f.path)).toEqual(['bin', 'bin/main', 'etc', 'etc/ukernel.env']);
    const kernel = info.sections.find((s) => s.name === 'kernel')!;
    expect(file.subarray(kernel.offset, kernel.offset + kernel.size).equals(Buffer.from(input.kernel))).toBe(true);
    expect(file.readUInt32LE(IMAGE_HEADER_OFFSET.sectionTable)).toBe(IMAGE_SECTION_KIND.kernel);
  });

  it('is refused once a byte of a section changes', () => {
    const broken = Buffer.from(file);
    const manifest = verifyImage(imageSource(file), GOLDEN_IMAGE_PATH, PROVIDED_ABI).sections.find((s) => s.name === 'manifest')!;
    broken[manifest.offset + 1]! ^= 0x01;
    expect(() => verifyImage(imageSource(broken), GOLDEN_IMAGE_PATH, PROVIDED_ABI)).toThrow(/manifest section sha256 mismatch/);
  });
});

describe('golden events block', () => {
  const made = goldenEvents();
  const file = golden(GOLDEN_EVENTS_PATH, made);

  it('is what the events encoder makes of its records, byte for byte', () => {
    expect(made.equals(file)).toBe(true);
  });

  it('decodes to every record kind, console output and the kernel record included', () => {
    const { records, reader } = decodeEvents(eventsSource(file));
    expect(reader.issues).toEqual([]);
    expect(records.map((r) => r.kind)).toEqual(['log', 'begin', 'output', 'event', 'end', 'output', 'kernel']);
    const output = records.filter((r) => r.kind === 'output').map((r) => r.bytes.toString('latin1'));
    expect(output).toEqual([...GOLDEN_CONSOLE_TEXT]);
    const kernel = records.find((r) => r.kind === 'kernel')!;
    expect(kernel.line.toString('latin1')).toBe(GOLDEN_KERNEL_LINE);
    const parsed = parseRecordLine(kernel.line);
    expect(parsed).toMatchObject({ type: 'record', record: { kind: 'exit', status: 0, reason: 'return' } });
    expect(GOLDEN_KERNEL_LINE).toContain(` v=${CONSOLE_PROTOCOL_VERSION} `);
    expect(records[0]).toMatchObject({
      kind: 'log',
      task: 1,
      tNs: 1_000_000,
      level: 'info',
      message: 'started',
      fields: [['port', '8080']],
    });
    expect(file[512 + 32 + 4]).toBe(EVENTS_RECORD_KIND.log);
  });
});
