import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { chooseAccel } from './accel.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-accel-'));
const devKvm = join(dir, 'kvm');
writeFileSync(devKvm, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const VMX = 'processor : 0\nflags : fpu vme vmx sse\n';
const NOVMX = 'processor : 0\nflags : fpu vme sse\n';

describe('chooseAccel', () => {
  it('uses TCG without probing when /dev/kvm is missing', async () => {
    const probe = vi.fn(async () => true);
    const c = await chooseAccel({ devKvm: join(dir, 'absent'), cpuinfo: VMX, probe });
    expect(c.accel).toBe('tcg');
    expect(probe).not.toHaveBeenCalled();
  });
  it('uses TCG when /dev/kvm exists but the CPU has no vmx/svm (the case on these machines)', async () => {
    const probe = vi.fn(async () => true);
    const c = await chooseAccel({ devKvm, cpuinfo: NOVMX, probe });
    expect(c).toEqual({ accel: 'tcg', reason: expect.stringContaining('no vmx/svm') });
    expect(probe).not.toHaveBeenCalled();
  });
  it('uses KVM only when the bounded probe guest answered', async () => {
    expect((await chooseAccel({ devKvm, cpuinfo: VMX, probe: async () => true })).accel).toBe('kvm');
    const c = await chooseAccel({ devKvm, cpuinfo: VMX, probe: async () => false });
    expect(c.accel).toBe('tcg');
    expect(c.reason).toMatch(/did not reach its agent/);
  });
  it('honours IH_ACCEL and records that it was forced', async () => {
    const c = await chooseAccel({ forced: 'kvm', devKvm: join(dir, 'absent'), probe: async () => false });
    expect(c).toEqual({ accel: 'kvm', reason: 'forced by IH_ACCEL=kvm' });
  });
});
