// Library entry (cli/dist/lib.js) for the benchmark and tests: pure building blocks only.
export { qemuArgs, type QemuOptions } from './vmm/qemu.js';
export { firecrackerArgs, firecrackerConfig, type FirecrackerConfig, type FirecrackerOptions } from './vmm/firecracker.js';
export { kernelCmdline } from './vmm/cmdline.js';
export { probeKvm } from './vmm/accel.js';
export { parseRecordLine, type BootRecord, type ExitRecord, type UkRecord } from './console/records.js';
export { ConsoleDecoder, type ConsoleEvent } from './console/stream.js';
export { sanitizeLine } from './console/sanitize.js';
export { formatDuration } from './format.js';
export * as constants from './constants.js';
export { renderJsonSchema, parseProjectConfig } from './project/config.js';
export { parseToolchainEnv } from './toolchain.js';
export { writeImage } from './image/writer.js';
export { verifyImage, bufferSource } from './image/reader.js';
export { createEventsFile, encodeEventsHeader } from './observe/device.js';
export { decodeEvents, bufferSource as eventsBufferSource, type EventRecord } from './observe/events.js';
export { buildTrace, chromeTrace, chromeTraceProblems, spanStats } from './observe/trace.js';
