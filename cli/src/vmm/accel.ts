// Accelerator selection. The KVM probe is injected so the policy is testable.
import { closeSync, openSync } from 'node:fs';
import { KVM_DEVICE } from '../constants.js';
import { UkernelError } from '../errors.js';

export const ACCELS = ['auto', 'kvm', 'tcg'] as const;
export type AccelRequest = (typeof ACCELS)[number];
export type Accel = Exclude<AccelRequest, 'auto'>;

export type KvmProbe = () => { ok: true } | { ok: false; reason: string };

/** KVM is usable when /dev/kvm opens read-write (what QEMU and Firecracker need). */
export const probeKvm: KvmProbe = () => {
  try {
    closeSync(openSync(KVM_DEVICE, 'r+'));
    return { ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code ?? String(err) };
  }
};

export interface AccelChoice {
  accel: Accel;
  /** One line for stderr when `auto` had to fall back. */
  notice: string | null;
}

export function selectAccel(request: AccelRequest, probe: KvmProbe): AccelChoice {
  if (request === 'tcg') return { accel: 'tcg', notice: null };
  const kvm = probe();
  if (kvm.ok) return { accel: 'kvm', notice: null };
  if (request === 'kvm') {
    throw new UkernelError('KvmUnavailable', `${KVM_DEVICE} not usable (${kvm.reason}) but --accel kvm was requested`);
  }
  return {
    accel: 'tcg',
    notice: `notice: ${KVM_DEVICE} not usable (${kvm.reason}); falling back to TCG (slower)`,
  };
}
