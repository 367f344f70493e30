/**
 * The `profiles` step: dm-linear devices over the scenario's disks, to see which block integrity profile
 * device-mapper stacks from them (harness/model/integrity/profile-stack.ts decides): each device is created
 * over its disks end to end, its sysfs integrity/ attributes are read, then, when asked, it is reloaded onto
 * other disks and read again, and removed. device-mapper lets several tables map one disk, so the disks
 * under the scenario's stack serve too; nothing is read or written through these devices.
 */
import { diskProfile, profileAttributes, reloadProfiles, stackProfiles, type Profile } from '../../model/integrity/profile-stack.ts';
import { InfraError } from '../../errors.ts';
import type { ScenarioDisk } from '../../scenario/schema.ts';
import type { GuestSession } from './cell.ts';
import type { CellDisks } from './guest-disks.ts';

export interface ProfileTry {
  linear: string[];
  reload?: string[] | undefined;
}

export interface ProfilesContext {
  s: GuestSession;
  disks: Pick<CellDisks, 'dev'>;
  /** the scenario's disks by name */
  declared: ReadonlyMap<string, Pick<ScenarioDisk, 'size' | 'nvme' | 'logicalBlockSize'>>;
  kernelVersion: readonly number[];
  /** where the scenario is, for errors its author must fix */
  at: string;
}

const FILES = ['format', 'tag_size', 'protection_interval_bytes', 'device_is_integrity_capable'];

/** The dm-linear table that puts `names` end to end. */
export function linearTable(ctx: Pick<ProfilesContext, 'disks' | 'declared' | 'at'>, names: readonly string[]): string {
  let start = 0;
  const lines: string[] = [];
  for (const n of names) {
    const d = ctx.declared.get(n);
    if (d === undefined) throw new InfraError(`${ctx.at}: '${n}' names no declared disk`);
    const sectors = d.size / 512;
    lines.push(`${start} ${sectors} linear ${ctx.disks.dev(n)} 0`);
    start += sectors;
  }
  return lines.join('\n') + '\n';
}

/** One `name value` line per attribute file of the device's integrity/ directory. */
export function readAttributesArgv(name: string): string[] {
  // without udev, /dev/mapper/<name> is a device node of its own, not a link to /dev/dm-N: dmsetup names it
  return ['sh', '-c', `d=$(dmsetup info -c --noheadings -o blkdevname ${name}) && for f in ${FILES.join(' ')}; do v=$(cat /sys/block/$d/integrity/$f) || exit 1; echo "$f $v"; done`];
}

export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) ?(.*)$/.exec(line.trim());
    if (m && FILES.includes(m[1]!)) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** The block devices `dmsetup deps -o blkdevname` lists, sorted: " 2 dependencies  : (nvme1n1) (nvme0n1)". */
export function parseDeps(text: string): string[] {
  return [...text.matchAll(/\(([^)]+)\)/g)].map((m) => m[1]!).sort();
}

/** The attributes the model names that the kernel shows otherwise, as "file: expected / found". */
export function attributeDiffs(want: Profile, seen: ReadonlyMap<string, string>): Array<{ file: string; expected: string; found: string }> {
  return Object.entries(profileAttributes(want))
    .filter(([f, v]) => seen.get(f) !== v)
    .map(([file, expected]) => ({ file, expected, found: seen.get(file) ?? '(not shown)' }));
}

export async function runProfilesStep(ctx: ProfilesContext, step: number, tries: readonly ProfileTry[]): Promise<void> {
  const { s } = ctx;
  const profileOf = (names: readonly string[]) => names.map((n) => diskProfile(ctx.declared.get(n)!));
  for (const [n, t] of tries.entries()) {
    const name = `ih-prof-${n}`;
    const what = `dm-linear over ${t.linear.join(' + ')}`;
    const check = async (want: Profile, when: string): Promise<void> => {
      const r = await s.must(readAttributesArgv(name));
      for (const d of attributeDiffs(want, parseAttributes(r.stdout.toString()))) {
        s.disagree({ step, kind: 'stacked-integrity', expected: `${d.file} ${d.expected} for ${what}${when} (the profile model)`, found: d.found });
      }
    };
    const created = await s.run(['dmsetup', 'create', name], { stdin: Buffer.from(linearTable(ctx, t.linear)) });
    if (created.exitCode !== 0) {
      s.disagree({ step, kind: 'table-refused', expected: `the kernel takes the ${what} (any disks may be put end to end)`, found: `dmsetup create failed: ${created.stderr.toString().trim()}` });
      continue;
    }
    const live = stackProfiles(ctx.kernelVersion, profileOf(t.linear));
    await check(live, '');
    if (t.reload !== undefined) {
      const want = reloadProfiles(ctx.kernelVersion, live, profileOf(t.reload));
      const onto = ` reloaded onto ${t.reload.join(' + ')}`;
      const r = await s.run(['dmsetup', 'reload', name], { stdin: Buffer.from(linearTable(ctx, t.reload)) });
      if ((r.exitCode === 0) !== want.accepted) {
        s.disagree({
          step, kind: want.accepted ? 'table-refused' : 'table-accepted',
          expected: `${what}${onto}: ${want.accepted ? 'taken' : 'refused (its profile conflicts with the live one)'} (the profile model)`,
          found: r.exitCode === 0 ? 'dmsetup reload took it' : `dmsetup reload failed: ${r.stderr.toString().trim()}`,
        });
      }
      // a refused reload leaves no inactive table: resume then changes nothing
      await s.must(['dmsetup', 'resume', name]);
      // a reload the kernel said it took must be the live table now, whatever the model thought of it
      const deps = parseDeps((await s.must(['dmsetup', 'deps', '-o', 'blkdevname', name])).stdout.toString());
      const wanted = [...new Set(t.reload.map((n) => ctx.disks.dev(n).replace('/dev/', '')))].sort();
      const loaded = r.exitCode === 0 && deps.join(' ') === wanted.join(' ');
      if (r.exitCode === 0 && !loaded) {
        s.disagree({
          step, kind: 'reload-dropped', expected: `after dmsetup reload exited 0 and resume, ${name} maps ${wanted.join(', ')} (${onto.trim()})`,
          found: `it still maps ${deps.join(', ') || 'nothing'}: the kernel reported the reload as taken but did not load it`,
        });
      }
      await check(loaded ? want.after : live, onto);
    }
    await s.must(['dmsetup', 'remove', name]);
  }
}
