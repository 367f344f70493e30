/**
 * Steps every stack's runner shares with the guest: finding disks by serial, checking device-mapper
 * targets, and putting the host-generated write payload on its disk.
 */
import { InfraError } from '../../errors.ts';
import { diskProfile, profileAttributes } from '../../model/integrity/profile-stack.ts';
import { PayloadIndex } from '../../repro/expect.ts';
import type { Scenario } from '../../scenario/load.ts';
import type { ScenarioDisk } from '../../scenario/schema.ts';
import { payloadParts } from '../../scenario/payload.ts';
import { SkipCell } from '../../verdict/failures.ts';
import type { GuestSession } from './cell.ts';
import { checkRequirements } from './requirements.ts';
import type { GuestFacts } from '../../scenario/requirements.ts';
import { writeAt, type TransferPlan } from './disks.ts';

/** role -> /dev/vdX or /dev/nvmeXn1, by serial (ih-<role>), so PCI enumeration order cannot swap disks. */
export async function mapGuestDisks(s: GuestSession, roles: Iterable<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>(s.disks ?? []);
  if (s.disks === undefined) await scanGuestDisks(s, found);
  for (const role of roles) {
    if (!found.has(role)) throw new InfraError(`guest has no disk with serial ih-${role} (found: ${[...found.keys()].join(', ') || 'none'})`);
  }
  s.recordDisks(found);
  return found;
}

/**
 * Every virtio disk and NVMe namespace with its serial, one "name serial" line each, in one round trip. An
 * NVMe namespace's serial is its controller's (or, under native multipath, its subsystem's).
 */
export const LIST_DISKS_ARGV = ['sh', '-c',
  'for d in /sys/block/vd* /sys/block/nvme*n*; do [ -e "$d" ] || continue; '
  + 's=$(cat "$d/serial" 2>/dev/null || cat "$d/device/serial" 2>/dev/null); echo "${d##*/} $s"; done'];

/** serial -> /dev/<name>, from LIST_DISKS_ARGV's output. */
export function parseDiskList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [dev, serial] = line.trim().split(/\s+/);
    if (dev && serial) out.set(serial, `/dev/${dev}`);
  }
  return out;
}

async function scanGuestDisks(s: GuestSession, found: Map<string, string>): Promise<void> {
  const ls = await s.must(LIST_DISKS_ARGV);
  for (const [serial, dev] of parseDiskList(ls.stdout.toString())) {
    if (serial.startsWith('ih-')) found.set(serial.slice(3), dev);
  }
}

/** A cell's disks by role: the host image of each and, once mapped, its guest device. */
export class CellDisks {
  private guest = new Map<string, string>();
  constructor(private readonly images: ReadonlyMap<string, string>) {}

  /**
   * Finds each disk by its serial, so a change in PCI enumeration order cannot swap them, and checks that
   * each NVMe disk carries the integrity profile its metadata asks for: without it the scenario would not
   * test what it says.
   */
  async map(s: GuestSession, disks: ReadonlyArray<Pick<ScenarioDisk, 'name' | 'nvme' | 'logicalBlockSize'>> = []): Promise<void> {
    const nvme = disks.filter((d) => d.nvme !== undefined).map((d) => d.name);
    if (nvme.length > 0 && (await s.run(['test', '-d', '/sys/class/nvme'])).exitCode !== 0) {
      throw new SkipCell(`kernel has no NVMe driver (CONFIG_BLK_DEV_NVME), and disk(s) ${nvme.join(', ')} are NVMe namespaces`);
    }
    this.guest = await mapGuestDisks(s, this.images.keys());
    for (const d of disks) {
      if (d.nvme === undefined) continue;
      const dir = `/sys/block/${this.dev(d.name).replace('/dev/', '')}/integrity`;
      const r = await s.run(['cat', `${dir}/format`]);
      // what nvme_init_integrity registers, with the block layer verifying and generating (blk_integrity_register)
      const want: Record<string, string> = { ...profileAttributes(diskProfile(d)), read_verify: '1', write_generate: '1' };
      if (r.exitCode !== 0) throw new SkipCell(`kernel without block integrity support (CONFIG_BLK_DEV_INTEGRITY): disk ${d.name} has NVMe metadata the kernel cannot use`);
      const format = r.stdout.toString().trim();
      if (format !== want['format']) throw new InfraError(`disk ${d.name} (${dir}) has integrity profile '${format}', not '${want['format']}' for nvme.pi ${d.nvme.pi}: the guest does not see the namespace the scenario asks for`);
      await this.checkProfile(s, d.name, dir, want);
      for (const [file, on] of [['read_verify', d.nvme.readVerify], ['write_generate', d.nvme.writeGenerate]] as const) {
        if (on !== false) continue;
        await s.must(['sh', '-c', `echo 0 > ${dir}/${file}`]);
        await this.checkProfile(s, d.name, dir, { [file]: '0' });
      }
    }
  }

  /**
   * The namespace's integrity attributes as the kernel registered them (nvme_init_integrity,
   * blk_integrity_register): a value other than the device's is the block layer's disagreement.
   */
  private async checkProfile(s: GuestSession, disk: string, dir: string, want: Record<string, string>): Promise<void> {
    for (const [file, value] of Object.entries(want)) {
      const got = (await s.must(['cat', `${dir}/${file}`])).stdout.toString().trim();
      if (got !== value) s.disagree({ step: -1, kind: 'lower-integrity', expected: `${dir}/${file} ${value} (disk ${disk})`, found: got });
    }
  }

  /** A fresh guest (after a kill step): the same disks must come up under the same names. */
  async remap(s: GuestSession): Promise<void> {
    const before = this.guest;
    await this.map(s);
    for (const [role, dev] of before) {
      if (this.guest.get(role) !== dev) throw new InfraError(`after the reboot disk ${role} is ${this.guest.get(role)}, it was ${dev}`);
    }
  }

  host(role: string): string {
    const p = this.images.get(role);
    if (p === undefined) throw new InfraError(`no host image for disk '${role}'`);
    return p;
  }

  dev(role: string): string {
    const d = this.guest.get(role);
    if (d === undefined) throw new InfraError(`guest has no disk with serial ih-${role}`);
    return d;
  }
}

/** Device-mapper targets the scenario needs: missing ones make the cell `skip`, not `fail`. */
export async function requireTargets(s: GuestSession, targets: string[]): Promise<void> {
  const r = await s.must(['dmsetup', 'targets']);
  const have = new Set(r.stdout.toString().split('\n').map((l) => l.split(/\s+/)[0]));
  const missing = [...new Set(targets)].filter((t) => !have.has(t));
  if (missing.length > 0) throw new SkipCell(`kernel lacks device-mapper target(s): ${missing.join(', ')}`);
}

/**
 * The host generates every byte the guest will write, onto the payload disk, before any step runs; the
 * index it returns finds a block's expected bytes in that payload (for the reproducer's expectations).
 */
export async function writePayload(scenario: Scenario, plan: TransferPlan, payloadImage: string): Promise<PayloadIndex> {
  const index = new PayloadIndex();
  for (const { offset, bytes } of payloadParts(scenario, plan.offsets)) {
    await writeAt(payloadImage, offset, bytes);
    index.add(offset, bytes);
  }
  return index;
}

/**
 * Every stack's setup begins alike: the setup step opens, the scenario's disks are found in the guest, what it
 * requires of the kernel and tools is checked (a skip when missing), and its write payload is put on its disk.
 */
export async function beginSetup(s: GuestSession, disks: CellDisks, scenario: Scenario, plan: TransferPlan): Promise<{ facts: GuestFacts; payload: PayloadIndex }> {
  await s.begin(-1, 'setup');
  await disks.map(s, scenario.disks);
  const facts = await checkRequirements(s, scenario);
  return { facts, payload: await writePayload(scenario, plan, disks.host('payload')) };
}
