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
  /** The logical and physical block size the guest sees (default 512). */
  logicalBlockSize?: number;
  /**
   * An NVMe namespace (its own controller, serial as above) with 8 bytes of metadata per block kept after
   * the data in the same image, and this T10 PI type (0: metadata without protection).
   */
  nvme?: { pi: 0 | 1 | 3 };
}

/** Bytes of NVMe metadata per logical block: the size of one T10 PI tuple. */
export const NVME_METADATA_BYTES = 8;

/** The image file's size for a disk whose guest-visible size is `bytes`. */
export function diskImageBytes(bytes: number, d: Pick<DiskSpec, 'logicalBlockSize' | 'nvme'>): number {
  if (d.nvme === undefined) return bytes;
  return bytes + (bytes / (d.logicalBlockSize ?? 512)) * NVME_METADATA_BYTES;
}

export interface QemuSpec {
  /** A bzImage, or an ELF vmlinux with a PVH entry note (kernel-image.ts): QEMU's -kernel tells them apart. */
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
  /**
   * A unix socket path for QMP (qmp.ts): the VM's run state and why QEMU ended. Without one QEMU gets no
   * monitor at all.
   */
  qmpSocket?: string;
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
    ...(spec.qmpSocket !== undefined
      ? ['-chardev', `socket,id=qmp,path=${optValue(spec.qmpSocket)},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control']
      : ['-monitor', 'none']),
    // The agent's channel is QEMU's own stdin/stdout: no socket paths, no listener races.
    '-chardev', 'stdio,id=agent,signal=off',
    '-device', 'virtio-serial-pci',
    '-device', 'virtserialport,chardev=agent,name=ih.agent',
  ];
  if (spec.disks.length > MAX_DISKS) throw new Error(`a guest takes at most ${MAX_DISKS} disks, not ${spec.disks.length}`);
  spec.disks.forEach((d, i) => {
    // A host I/O error (ENOSPC on the results file system, EIO of the host disk) stops the VM instead of
    // reaching the guest as a failed bio: the kernel under test did nothing wrong, and QMP reports the
    // pause with the image and the reason (guest.ts, hostFault).
    const opts = [`file=${optValue(d.path)}`, 'format=raw', 'if=none', `id=disk${i}`, 'cache=writeback', 'aio=threads', 'werror=stop', 'rerror=stop'];
    if (d.readOnly) opts.push('readonly=on');
    args.push('-drive', opts.join(','));
    const lbs = d.logicalBlockSize ?? 512;
    const blockSizes = lbs === 512 ? '' : `,logical_block_size=${lbs},physical_block_size=${lbs}`;
    if (d.nvme === undefined) {
      args.push('-device', `virtio-blk-pci,drive=disk${i},serial=${d.serial}${blockSizes},${diskAddress(i)}`);
    } else {
      // mset=0: the metadata travels in its own buffer (extended LBAs leave Linux an unusable namespace);
      // QEMU keeps it after the data, so the data stays at the same image offsets as on a virtio disk.
      args.push('-device', `nvme,id=nvme${i},serial=${d.serial},${diskAddress(i)}`);
      args.push('-device', `nvme-ns,drive=disk${i},bus=nvme${i},nsid=1,logical_block_size=${lbs},physical_block_size=${lbs},ms=${NVME_METADATA_BYTES},mset=0,pi=${d.nvme.pi}`);
    }
  });
  return args;
}

/**
 * Disks sit eight to a PCI slot, as functions 0-7 of a multifunction device, from slot 0x08 on: q35's root
 * bus has 32 slots (the host bridge, the LPC/SATA/SMBus functions in 0x1f and virtio-serial, which QEMU puts
 * in the first free slot, take some), so one function per slot would cap a guest at ~24 disks.
 */
const FIRST_DISK_SLOT = 0x08;
const LAST_DISK_SLOT = 0x1e;
export const MAX_DISKS = (LAST_DISK_SLOT - FIRST_DISK_SLOT + 1) * 8;

function diskAddress(i: number): string {
  const slot = FIRST_DISK_SLOT + Math.floor(i / 8);
  const fn = i % 8;
  return `bus=pcie.0,addr=0x${slot.toString(16)}.0x${fn}${fn === 0 ? ',multifunction=on' : ''}`;
}
