import { describe, expect, it } from 'vitest';
import { qemuArgs, type QemuSpec } from './args.ts';

const spec: QemuSpec = {
  kernel: '/k/bzImage', initrd: '/k/init.cpio.gz', accel: 'tcg', memoryMb: 512, cpus: 1,
  consoleLog: '/r/cell,1/console.log', disks: [{ path: '/r/a,b.img', serial: 'ih-data' }, { path: '/r/out.img', serial: 'ih-out', readOnly: true }],
};

const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

describe('qemuArgs', () => {
  it('boots the kernel directly, never reboots, and panics end the guest', () => {
    const a = qemuArgs(spec);
    expect(after(a, '-kernel')).toEqual(['/k/bzImage']);
    expect(a).toContain('-no-reboot');
    const append = after(a, '-append')[0]!;
    for (const w of ['panic=-1', 'oops=panic', 'softlockup_panic=1', 'hung_task_panic=1', 'console=ttyS0,115200']) {
      expect(append.split(' ')).toContain(w);
    }
  });
  it('uses TCG unless KVM was chosen', () => {
    expect(after(qemuArgs(spec), '-machine')).toEqual(['q35,accel=tcg']);
    expect(after(qemuArgs({ ...spec, accel: 'kvm' }), '-machine')).toEqual(['q35,accel=kvm']);
  });
  it('escapes commas in paths and gives each disk its serial', () => {
    const a = qemuArgs(spec);
    const drives = after(a, '-drive');
    expect(drives[0]).toContain('file=/r/a,,b.img,');
    expect(drives[1]).toContain('readonly=on');
    expect(after(a, '-device').filter((d) => d.startsWith('virtio-blk-pci'))).toEqual([
      'virtio-blk-pci,drive=disk0,serial=ih-data', 'virtio-blk-pci,drive=disk1,serial=ih-out',
    ]);
    expect(after(a, '-chardev')[0]).toBe('file,id=con,path=/r/cell,,1/console.log');
  });
  it('passes extra kernel parameters after the base ones', () => {
    const append = after(qemuArgs({ ...spec, append: ['ih.debug=1'] }), '-append')[0]!;
    expect(append.endsWith(' ih.debug=1')).toBe(true);
  });
});
