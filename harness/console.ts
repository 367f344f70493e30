/**
 * Reading the serial console: where the kernel says it crashed, and where the harness's own guest
 * plumbing broke. The first must become `crash`, the second `error`; never the other way round.
 */

/** Kernel messages that make a cell `crash` (blktests promotes similar dmesg lines to failures). */
export const CRASH_PATTERNS: RegExp[] = [
  /BUG: [^\n]*/,
  /kernel BUG at [^\n]*/,
  /Oops: [^\n]*/,
  /general protection fault[^\n]*/,
  /WARNING: CPU: \d+ PID: \d+ at [^\n]*/,
  /UBSAN: [^\n]*/,
  /KASAN: [^\n]*/,
  /Kernel panic - not syncing: [^\n]*/,
  /watchdog: BUG: soft lockup[^\n]*/,
  /INFO: task [^\n]* blocked for more than \d+ seconds[^\n]*/,
];

/**
 * A user process's fault, which the kernel reports and survives: `traps: ih-io[93] general protection fault
 * ip:... in ih-io[...]`, `ih-io[93]: segfault at 0 ip ... error 4 in ih-io[...]`. The tool's failure shows as
 * a failed step; the line is evidence, never a kernel crash.
 */
const USER_FAULT = /^.*(?:\btraps: \S+\[\d+\] (?:general protection fault|trap )|\S+\[\d+\]: segfault at )[^\n]*/gm;

/** User-process fault lines in a console log (see USER_FAULT), trimmed, in order. */
export function userFaults(text: string): string[] {
  return [...text.matchAll(USER_FAULT)].map((m) => m[0].trim());
}

/** Panics caused by the guest image, not by the kernel under test. */
const INFRA_PANIC = /Kernel panic - not syncing: (Attempted to kill init|No working init found|VFS: Unable to mount root)[^\n]*/;

export interface ConsoleFinding {
  kind: 'crash' | 'infra';
  /** The first matching line, trimmed. */
  line: string;
  /** Normalised signature: oops type + faulting function without offsets, e.g. "BUG: kernel NULL pointer dereference @ bio_integrity_verify_fn". */
  signature: string;
  /** Lines around the first match, for reports. */
  excerpt: string;
}

/** Function named in "RIP: 0010:func+0x12/0x40" (without the offset). */
function faultingFunction(text: string): string | undefined {
  const m = text.match(/RIP: \d{4}:([A-Za-z0-9_.]+)\+0x/);
  if (m?.[1]) return m[1];
  // A call through a NULL function pointer faults at "RIP: 0010:0x0": the caller is the first frame of
  // the call trace that the unwinder is sure of (lines without '?').
  const trace = text.match(/Call Trace:\r?\n([\s\S]*?)(?:<\/TASK>|---\[ end trace|$)/);
  const frame = trace?.[1]?.match(/^(?:\[[^\]]*\]\s*)?([A-Za-z_][A-Za-z0-9_.]*)\+0x/m);
  return frame?.[1];
}

export function excerptAround(text: string, index: number, before = 5, after = 40): string {
  const lines = text.slice(0, index).split('\n');
  const start = Math.max(0, lines.length - 1 - before);
  const all = text.split('\n');
  return all.slice(start, lines.length + after).join('\n');
}

/** The crash line without what varies between runs: addresses, offsets, PIDs, oops counters, file:line. */
export function normaliseHead(line: string): string {
  return line
    .replace(/ at [^\n]*$/, '')
    .replace(/\s*\[#\d+\].*$/, '')
    .replace(/,? address: \S+/, '')
    .replace(/\b(0x)?[0-9a-f]{8,}\b/gi, '')
    .replace(/0x[0-9a-f]+/gi, '')
    .replace(/\b(CPU|PID): \d+/g, '$1')
    .replace(/[\s,:]+$/, '')
    .replace(/\s+/g, ' ')
    .replace(/ :/g, ':')
    .trim();
}

/** Finds the first crash (or harness-caused panic) in a console log, if any. */
export function scanConsole(text: string): ConsoleFinding | undefined {
  // the user-fault lines blanked out (same length, so indices hold): their words must not match a crash pattern
  const kernelText = text.replace(USER_FAULT, (m) => ' '.repeat(m.length));
  let first: { index: number; line: string } | undefined;
  for (const re of CRASH_PATTERNS) {
    const m = re.exec(kernelText);
    if (m && (first === undefined || m.index < first.index)) first = { index: m.index, line: m[0].trim() };
  }
  if (first === undefined) return undefined;
  const infra = INFRA_PANIC.exec(text);
  // A harness-caused panic counts as infra only when no kernel crash came before it.
  if (infra && infra.index <= first.index) {
    return { kind: 'infra', line: infra[0].trim(), signature: infra[0].trim(), excerpt: excerptAround(text, infra.index) };
  }
  const fn = faultingFunction(text.slice(first.index));
  const head = normaliseHead(first.line);
  return { kind: 'crash', line: first.line, signature: fn ? `${head} @ ${fn}` : head, excerpt: excerptAround(text, first.index) };
}
