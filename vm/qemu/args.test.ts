import { describe, expect, it } from 'vitest';
import { diskImageBytes, MAX_DISKS, qemuArgs, type QemuSpec } from './args.ts';

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
  it('stops the VM on a host I/O error instead of failing the guest\'s bio, and gives QMP a socket when asked', () => {
    for (const d of after(qemuArgs(spec), '-drive')) expect(d.split(',')).toEqual(expect.arrayContaining(['werror=stop', 'rerror=stop']));
    expect(after(qemuArgs(spec), '-monitor')).toEqual(['none']);
    const a = qemuArgs({ ...spec, qmpSocket: '/tmp/ih-qmp-x/qmp.sock' });
    expect(a).not.toContain('-monitor');
    expect(after(a, '-chardev')).toContain('socket,id=qmp,path=/tmp/ih-qmp-x/qmp.sock,server=on,wait=off');
    expect(after(a, '-mon')).toEqual(['chardev=qmp,mode=control']);
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
      'virtio-blk-pci,drive=disk0,serial=ih-data,bus=pcie.0,addr=0x8.0x0,multifunction=on',
      'virtio-blk-pci,drive=disk1,serial=ih-out,bus=pcie.0,addr=0x8.0x1',
    ]);
    expect(after(a, '-chardev')[0]).toBe('file,id=con,path=/r/cell,,1/console.log');
  });
  it('gives a 4Kn disk 4096-byte logical and physical blocks, and an NVMe disk its own controller with PI metadata', () => {
    const a = qemuArgs({ ...spec, disks: [
      { path: '/r/4k.img', serial: 'ih-data', logicalBlockSize: 4096 },
      { path: '/r/pi.img', serial: 'ih-meta', nvme: { pi: 1 } },
    ] });
    const dev = after(a, '-device');
    expect(dev).toContain('virtio-blk-pci,drive=disk0,serial=ih-data,logical_block_size=4096,physical_block_size=4096,bus=pcie.0,addr=0x8.0x0,multifunction=on');
    expect(dev).toContain('nvme,id=nvme1,serial=ih-meta,bus=pcie.0,addr=0x8.0x1');
    expect(dev).toContain('nvme-ns,drive=disk1,bus=nvme1,nsid=1,logical_block_size=512,physical_block_size=512,ms=8,mset=0,pi=1');
    expect(dev.filter((d) => d.startsWith('virtio-blk-pci'))).toHaveLength(1);
  });

  it('sizes an NVMe image for its data plus 8 bytes of metadata per block, and a virtio image for its data', () => {
    expect(diskImageBytes(1 << 20, {})).toBe(1 << 20);
    expect(diskImageBytes(1 << 20, { nvme: { pi: 1 } })).toBe((1 << 20) + 2048 * 8);
    expect(diskImageBytes(1 << 20, { nvme: { pi: 0 }, logicalBlockSize: 4096 })).toBe((1 << 20) + 256 * 8);
  });

  it('puts disks eight to a slot, each slot a multifunction device, and refuses more than the slots hold', () => {
    const disks = Array.from({ length: 17 }, (_, i) => ({ path: `/r/d${i}`, serial: `ih-d${i}` }));
    const devs = after(qemuArgs({ ...spec, disks }), '-device').filter((d) => d.startsWith('virtio-blk-pci'));
    const addrs = devs.map((d) => /addr=([^,]+)/.exec(d)?.[1]);
    expect(addrs.slice(6, 10)).toEqual(['0x8.0x6', '0x8.0x7', '0x9.0x0', '0x9.0x1']);
    expect(addrs[16]).toBe('0xa.0x0');
    expect(new Set(addrs).size).toBe(17);
    expect(devs.filter((d) => d.includes('multifunction=on'))).toHaveLength(3);
    const tooMany = Array.from({ length: MAX_DISKS + 1 }, (_, i) => ({ path: `/r/d${i}`, serial: `ih-d${i}` }));
    expect(() => qemuArgs({ ...spec, disks: tooMany })).toThrow(/at most 184 disks/);
  });
  it('passes extra kernel parameters after the base ones', () => {
    const append = after(qemuArgs({ ...spec, append: ['ih.debug=1'] }), '-append')[0]!;
    expect(append.endsWith(' ih.debug=1')).toBe(true);
  });
});
