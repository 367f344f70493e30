/**
 * What a shared guest must look like between two scenarios, and how long the next one must wait.
 *
 * One constant script (no input goes into it) lists, in one agent round trip, the kernel state a scenario
 * could leave behind for the next: device-mapper devices, /dev/mapper nodes, keys, mounts and user
 * processes; it empties /tmp (the harness's own key files) and reads and clears the kernel ring buffer, so
 * the next scenario's `dmesg` holds only its own lines. Kernel state is only checked, never repaired: a
 * guest that is not clean is retired and the next scenario boots a fresh one.
 */
import { RATELIMIT_BURST } from '../../model/integrity/log.ts';

const STATE_MARK = 'ih: state check';

export const STATE_SCRIPT = [
  'echo "== self $$"',
  'echo "== dm"; dmsetup ls',
  'echo "== mapper"; ls -A /dev/mapper',
  'echo "== keys"; cat /proc/keys 2>/dev/null',
  'echo "== mounts"; cat /proc/mounts',
  'echo "== procs"; cat /proc/[0-9]*/stat 2>/dev/null',
  'rm -rf /tmp/* /tmp/.[!.]*; echo "== tmp"; ls -A /tmp',
  'echo "== uptime"; cat /proc/uptime',
  // a line stamped by the same clock as the kernel's own lines: "now" for the ratelimit windows
  `echo "${STATE_MARK}" > /dev/kmsg`,
  'echo "== dmesg"; dmesg -c',
  'echo "== end"',
].join('\n');

export const STATE_ARGV = ['sh', '-c', STATE_SCRIPT];

export interface GuestState {
  /** `dmsetup ls` lines, minus "No devices found" */
  dm: string[];
  /** /dev/mapper entries other than control */
  mapper: string[];
  keys: string[];
  mounts: string[];
  /** user processes (not kernel threads, not the agent, not this script and its children): "pid comm" */
  procs: string[];
  tmp: string[];
  /** guest seconds since boot */
  uptime: number;
  /** the ring buffer as it was before it was cleared */
  dmesg: string;
}

/** PF_KTHREAD in /proc/<pid>/stat's flags field. */
const PF_KTHREAD = 0x00200000;

function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^== (\w+)(?: (.*))?$/.exec(line);
    if (m) {
      cur = m[2] !== undefined ? [m[2]] : [];
      out.set(m[1]!, cur);
      continue;
    }
    if (line.trim() !== '') cur?.push(line);
  }
  return out;
}

/** "pid (comm) state ppid pgrp session tty tpgid flags ...": comm may hold spaces and parentheses. */
function parseStat(line: string): { pid: number; comm: string; ppid: number; flags: number } | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = line.slice(close + 2).split(' ');
  const pid = Number(line.slice(0, open).trim());
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(flags)) return undefined;
  return { pid, comm: line.slice(open + 1, close), ppid, flags };
}

/** Parses the script's output; throws when a section is missing (the script did not run to its end). */
export function parseGuestState(text: string): GuestState {
  const s = sections(text);
  for (const k of ['self', 'dm', 'mapper', 'keys', 'mounts', 'procs', 'tmp', 'uptime', 'dmesg', 'end']) {
    if (!s.has(k)) throw new Error(`guest state script output lacks its '${k}' section`);
  }
  const self = Number(s.get('self')![0]);
  const procs: string[] = [];
  for (const line of s.get('procs')!) {
    const p = parseStat(line);
    if (p === undefined || (p.flags & PF_KTHREAD) !== 0 || p.pid === 1 || p.pid === self || p.ppid === self) continue;
    procs.push(`${p.pid} ${p.comm}`);
  }
  const dmesgStart = text.indexOf('== dmesg\n');
  const dmesgEnd = text.lastIndexOf('== end');
  return {
    dm: s.get('dm')!.filter((l) => !/^No devices found/.test(l)),
    mapper: s.get('mapper')!.flatMap((l) => l.split(/\s+/)).filter((n) => n !== '' && n !== 'control'),
    keys: s.get('keys')!,
    mounts: s.get('mounts')!,
    procs,
    tmp: s.get('tmp')!,
    uptime: Number.parseFloat(s.get('uptime')![0] ?? 'NaN'),
    dmesg: dmesgStart >= 0 && dmesgEnd > dmesgStart ? text.slice(dmesgStart + '== dmesg\n'.length, dmesgEnd) : '',
  };
}

/** What `now` has that the freshly booted guest (`base`) did not: empty when nothing leaked. */
export function leftovers(base: GuestState, now: GuestState): string[] {
  const out: string[] = [];
  if (now.dm.length) out.push(`device-mapper devices left: ${now.dm.join('; ')}`);
  if (now.mapper.length) out.push(`/dev/mapper nodes left: ${now.mapper.join(', ')}`);
  const extra = (what: string, a: string[], b: string[]) => {
    const had = new Set(a);
    const added = b.filter((x) => !had.has(x));
    if (added.length) out.push(`${what} left: ${added.join('; ')}`);
  };
  extra('keys', base.keys.map(keyIdentity), now.keys.map(keyIdentity));
  extra('mounts', base.mounts, now.mounts);
  extra('processes', base.procs, now.procs);
  if (now.tmp.length) out.push(`/tmp could not be emptied: ${now.tmp.join(', ')}`);
  return out;
}

/** A /proc/keys line without its expiry and usage columns, which change on their own. */
function keyIdentity(line: string): string {
  const f = line.trim().split(/\s+/);
  return [f[0], ...f.slice(5)].join(' ');
}

/**
 * dm targets log errors through DMERR_LIMIT: printk_ratelimited, its own state per call site, at most
 * DEFAULT_RATELIMIT_BURST (10) lines per DEFAULT_RATELIMIT_INTERVAL (5 s) window (lib/ratelimit.c: a call
 * after begin + interval opens a new window at that call, and that call always prints). The cells judge the
 * lines of two such messages, each from its own call sites, so each is its own class here:
 *
 * - `checksum`: dm-integrity's "Checksum failed". Integrity cells count them against the model, which takes
 *   each scenario to start with a full burst, as in a fresh guest (harness/model/integrity/log.ts): on a
 *   shared guest no window the previous scenario's lines opened may still be open when a read the model
 *   expects to fail begins. Which site printed a line is not in the line, so the last window may have
 *   opened at any of them: such a read waits until 5 s after the previous scenario's last line.
 * - `aead`: dm-crypt's "INTEGRITY AEAD ERROR". AEAD cells only check that every such line names a block a
 *   read was expected to fail on (aead-cell.ts, checkAeadLog): there is no count for a held-back line to
 *   spoil, so they never wait for the window.
 *
 * A line of one class never holds back a line of the other (different call sites). A scenario that used a
 * whole burst of a class could hold back even a line nobody expects from the next scenario of that class:
 * that one waits before it begins.
 */
export const RATELIMIT_INTERVAL_S = 5;
export type LogClass = 'checksum' | 'aead';
export const LOG_CLASSES: readonly LogClass[] = ['checksum', 'aead'];
const JUDGED_RATELIMITED: Readonly<Record<LogClass, RegExp>> = {
  checksum: /device-mapper: .*Checksum failed/,
  aead: /device-mapper: .*INTEGRITY AEAD ERROR/,
};

/** The class of judged lines a stack's cells read back: dm-integrity's own hash, or dm-crypt's AEAD. */
export function logClassOf(stackType: string): LogClass {
  return stackType === 'integrity' ? 'checksum' : 'aead';
}

export interface RatelimitCarry {
  /** ms from the state check until every window the scenario's judged lines may have opened is closed */
  waitMs: number;
  /** the scenario's judged ratelimited lines of this class */
  lines: number;
  /**
   * The scenario may have used up a whole burst: then even a line nobody expects in the next scenario's
   * setup could be held back, so the next scenario of this class waits before it begins.
   */
  burstUsed: boolean;
}

const stamp = (line: string): number | undefined => {
  const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
  return m ? Number(m[1]) : undefined;
};

export function ratelimitCarry(st: Pick<GuestState, 'dmesg' | 'uptime'>, cls: LogClass, marginS = 0.25): RatelimitCarry {
  let last: number | undefined;
  let lines = 0;
  let now: number | undefined;
  for (const line of st.dmesg.split('\n')) {
    if (line.includes(STATE_MARK)) now = stamp(line) ?? now;
    if (!JUDGED_RATELIMITED[cls].test(line)) continue;
    lines++;
    last = stamp(line) ?? last;
  }
  const burstUsed = lines >= RATELIMIT_BURST;
  if (lines === 0) return { waitMs: 0, lines, burstUsed };
  now ??= st.uptime;
  if (last === undefined || !Number.isFinite(now)) return { waitMs: (RATELIMIT_INTERVAL_S + marginS) * 1000, lines, burstUsed };
  return { waitMs: Math.max(0, Math.ceil((last + RATELIMIT_INTERVAL_S + marginS - now) * 1000)), lines, burstUsed };
}
