// sha256 as hex. Its own module: node:crypto costs milliseconds to load, and `run --kernel` never
// hashes anything.
import { createHash } from 'node:crypto';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
