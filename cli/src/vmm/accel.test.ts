import { describe, expect, it } from 'vitest';
import { probeKvm, selectAccel, type KvmProbe } from './accel.js';

const usable: KvmProbe = () => ({ ok: true });
const missing: KvmProbe = () => ({ ok: false, reason: 'ENOENT' });
const neverCalled: KvmProbe = () => {
  throw new Error('probe must not run for tcg');
};

describe('selectAccel', () => {
  it('auto picks KVM when usable', () => {
    expect(selectAccel('auto', usable)).toEqual({ accel: 'kvm', notice: null });
  });

  it('auto falls back to TCG with a one-line notice saying why', () => {
    const choice = selectAccel('auto', missing);
    expect(choice.accel).toBe('tcg');
    expect(choice.notice).toBe('notice: /dev/kvm not usable (ENOENT); falling back to TCG (slower)');
  });

  it('kvm when unusable is an error; tcg never probes', () => {
    expect(() => selectAccel('kvm', missing)).toThrow(expect.objectContaining({ code: 'UK105', exitCode: 2 }));
    expect(selectAccel('kvm', usable).accel).toBe('kvm');
    expect(selectAccel('tcg', neverCalled)).toEqual({ accel: 'tcg', notice: null });
  });

  it('the real probe answers without throwing', () => {
    const result = probeKvm();
    expect(typeof result.ok).toBe('boolean');
  });
});
