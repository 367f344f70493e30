/**
 * The one place that builds QEMU's command line, as an array (virtme-ng's lesson: strings break on quoting).
 */
export type Accel = 'kvm' | 'tcg';

export interface DiskSpec {
  /** Image file on the host (always a file inside the run directory, never a host block device). */
  path: string;
  /** virtio-blk serial, visible in the guest as /sys/block/vdX/serial; identifies the disk's role. */
  serial: string;
  readOnly?: boolean;
}

export interface QemuSpec {
  kernel: string;
  initrd: string;
  /** Extra kernel command-line words (already split). */
  append?: string[];
  accel: Accel;
  memoryMb: number;
  cpus: number;
  disks: DiskSpec[];
  /** Host file receiving the serial console (kernel log, init messages). */
  consoleLog: string;
}

/** Kernel parameters every guest gets: a crash or a hang must end QEMU at once, not stall the run. */
export const BASE_CMDLINE = [
  'console=ttyS0,115200',
  'panic=-1', // reboot at once on panic; with -no-reboot, QEMU exits
  'oops=panic', // an oops in a worker thread would otherwise just hang the I/O
  'softlockup_panic=1',
  'hung_task_panic=1',
  'sysctl.kernel.hung_task_timeout_secs=30',
  'rdinit=/init',
  'loglevel=7',
];

/** QEMU option values escape a comma by doubling it. */
function optValue(v: string): string {
  return v.replaceAll(',', ',,');
}

export function qemuArgs(spec: QemuSpec): string[] {
  const args = [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-machine', spec.accel === 'kvm' ? 'q35,accel=kvm' : 'q35,accel=tcg',
    '-cpu', spec.accel === 'kvm' ? 'host' : 'max',
    '-m', String(spec.memoryMb),
    '-smp', String(spec.cpus),
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', [...BASE_CMDLINE, ...(spec.append ?? [])].join(' '),
    '-chardev', `file,id=con,path=${optValue(spec.consoleLog)}`,
    '-serial', 'chardev:con',
    '-monitor', 'none',
    // The agent's channel is QEMU's own stdin/stdout: no socket paths, no listener races.
    '-chardev', 'stdio,id=agent,signal=off',
    '-device', 'virtio-serial-pci',
    '-device', 'virtserialport,chardev=agent,name=ih.agent',
  ];
  spec.disks.forEach((d, i) => {
    const opts = [`file=${optValue(d.path)}`, 'format=raw', 'if=none', `id=disk${i}`, 'cache=writeback', 'aio=threads'];
    if (d.readOnly) opts.push('readonly=on');
    args.push('-drive', opts.join(','));
    args.push('-device', `virtio-blk-pci,drive=disk${i},serial=${d.serial}`);
  });
  return args;
}
