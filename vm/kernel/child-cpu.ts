// CPU time of this process's finished children, from /proc/self/stat. On a shared machine wall time says
// little about what a build costs; CPU time of the processes it ran mostly does not change with the load.
import { readFileSync } from 'node:fs';

// USER_HZ: the kernel reports cutime/cstime in these ticks, 100 on every Linux architecture we run on.
const TICKS_PER_SECOND = 100;

/**
 * user + system CPU of all children (and their waited-for descendants) this process has reaped so far, in
 * ms; NaN where /proc is missing. A difference of two readings covers every child reaped in between, so it
 * is one step's cost only when nothing else this process started finished meanwhile.
 */
export function childCpuMs(statText?: string): number {
  let text = statText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return Number.NaN;
    }
  }
  // Fields after "pid (comm) ": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // cutime and cstime are fields 16 and 17 of proc(5); fields[0] is field 3 (state).
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return Number.NaN;
  return ((cutime + cstime) * 1000) / TICKS_PER_SECOND;
}
