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
  return ['sh', '-c', `d=$(basename "$(readlink -f /dev/mapper/${name})") && for f in ${FILES.join(' ')}; do echo "$f $(cat /sys/block/$d/integrity/$f)"; done`];
}

export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) ?(.*)$/.exec(line.trim());
    if (m && FILES.includes(m[1]!)) out.set(m[1]!, m[2]!.trim());
  }
  return out;
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
      await check(r.exitCode === 0 ? want.after : live, onto);
    }
    await s.must(['dmsetup', 'remove', name]);
  }
}
