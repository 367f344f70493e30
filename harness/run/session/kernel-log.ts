/**
 * The guest's kernel log cut at the step markers the runner writes to /dev/kmsg ("ih: step <n> <kind>"),
 * blktests-style, so each line can be held against what the model predicted for that step.
 */
const MARKER = /\bih: step (-?\d+) \S+/;

/** dmesg text -> step index -> that step's lines (lines before the first marker go to step -2). */
export function splitByStep(dmesg: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let step = -2;
  for (const line of dmesg.split('\n')) {
    const m = line.match(MARKER);
    if (m) {
      step = Number(m[1]);
      continue;
    }
    if (line.trim() === '') continue;
    const lines = out.get(step) ?? [];
    lines.push(line.replace(/^\[\s*\d+\.\d+\]\s*/, ''));
    out.set(step, lines);
  }
  return out;
}

/** Sectors named by dm-crypt's `INTEGRITY AEAD ERROR, sector <n>` lines (crypt-target-relative, 512-byte). */
export function aeadErrorSectors(kernelLog: string): number[] {
  return [...kernelLog.matchAll(/INTEGRITY AEAD ERROR, sector (\d+)/g)].map((m) => Number(m[1]));
}
