/**
 * Judges the guest's kernel log (dmesg, cut at the step markers) against what the model said of each step:
 * dm-integrity's "Checksum failed" lines (which sectors, how many under the ratelimit, the lines a refusal
 * must print) and dm-crypt's AEAD errors (only for blocks a read was expected to fail on). Pure: the step
 * runs dmesg and records what this returns.
 */
import { CHECKSUM_FAILED, checksumLineBlockSector, checksumLineBounds } from '../../model/integrity/log.ts';
import { aeadErrorSectors, splitByStep } from './kernel-log.ts';
import type { Disagreement } from '../../verdict/types.ts';

type Range = { min: number; max: number };

/** What the model counted of dm-integrity's checksum failures (the integrity cell's ChecksumTally). */
export interface ChecksumExpectation {
  /** step -> sectors a "Checksum failed" line in that step may name */
  logSectors: ReadonlyMap<number, ReadonlySet<number>>;
  /** checksum failures over the whole cell */
  cell: Range;
}

export interface KernelLogJudgement {
  disagreements: Disagreement[];
  /** "Checksum failed" lines found, and the bounds the model allows */
  lines: number;
  bounds: Range;
}

/**
 * Every "Checksum failed" line must name a sector of a block the model expected to fail in that step; their
 * number must fit the ratelimit bounds; every line the model requires (step -> text) must be there.
 * `step` is where a wrong count is reported (the teardown).
 */
export function judgeKernelLog(
  step: number, dmesg: string, want: ChecksumExpectation, required: ReadonlyMap<number, readonly string[]>, sectorsPerBlock: number,
): KernelLogJudgement {
  const out: Disagreement[] = [];
  const byStep = splitByStep(dmesg);
  let lines = 0;
  for (const [i, text] of byStep) {
    for (const line of text) {
      const m = line.match(CHECKSUM_FAILED);
      if (!m) continue;
      lines++;
      const sector = Number.parseInt(m[1]!, 16);
      const allowed = want.logSectors.get(i);
      if (!allowed?.has(checksumLineBlockSector(sector, sectorsPerBlock))) {
        out.push({ step: i, kind: 'log-unexpected', sector, expected: allowed?.size ? `checksum lines for sectors ${[...allowed].map((x) => `0x${x.toString(16)}`).join(', ')}` : 'no checksum line', found: line.trim() });
      }
    }
  }
  const bounds = checksumLineBounds(want.cell);
  if (lines < bounds.min || lines > bounds.max) {
    out.push({ step, kind: 'log-count', expected: `${bounds.min}..${bounds.max} "Checksum failed" lines (events ${want.cell.min}..${want.cell.max}, ratelimited)`, found: String(lines) });
  }
  for (const [i, wanted] of required) {
    const text = byStep.get(i) ?? [];
    for (const w of wanted) {
      if (!text.some((l) => l.includes(w))) out.push({ step: i, kind: 'log-missing', expected: `a kernel line containing '${w}'`, found: text.filter((l) => /device-mapper/.test(l)).join(' | ') || 'no device-mapper line' });
    }
  }
  return { disagreements: out, lines, bounds };
}

/** Every AEAD error dm-crypt logged must be for a block some read was expected to fail on (`mayFail`). */
export function judgeAeadLog(step: number, dmesg: string, mayFail: ReadonlySet<number>, sectorsPerBlock: number): { disagreements: Disagreement[]; blocks: number[] } {
  const blocks = aeadErrorSectors(dmesg).map((sector) => Math.floor(sector / sectorsPerBlock));
  const unexpected = [...new Set(blocks.filter((b) => !mayFail.has(b)))];
  const disagreements = unexpected.map((b): Disagreement => ({
    step, kind: 'aead-log', block: b, sector: b * sectorsPerBlock, expected: 'no AEAD error (no read of it had to fail)', found: 'INTEGRITY AEAD ERROR logged',
  }));
  return { disagreements, blocks };
}

/**
 * Each refused table's kernel line in step i, in order: "device-mapper: table: <dev>: <target>: <error>",
 * with " (-<errno>)" after it on kernels that print one, which must then be the model's.
 */
export function judgeRefusalLog(i: number, dmesg: string, refusals: ReadonlyArray<{ error: string; errno: string | undefined }>, target: 'integrity' | 'crypt'): Disagreement[] {
  const out: Disagreement[] = [];
  const lines = (splitByStep(dmesg).get(i) ?? []).filter((l) => l.includes(`: ${target}: `) && /device-mapper: table: /.test(l));
  let from = 0;
  for (const want of refusals) {
    const at = lines.findIndex((l, j) => j >= from && l.includes(`${target}: ${want.error}`));
    if (at < 0) {
      out.push({ step: i, kind: 'log-missing', expected: `a kernel line '${target}: ${want.error}'`, found: lines.slice(from).join(' | ') || 'no refusal line' });
      continue;
    }
    from = at + 1;
    const errno = lines[at]!.match(/\(-(E[A-Z]+)\)\s*$/)?.[1];
    if (errno !== undefined && want.errno !== undefined && errno !== want.errno) {
      out.push({ step: i, kind: 'table-errno', expected: `-${want.errno} for '${want.error}'`, found: lines[at]!.trim() });
    }
  }
  return out;
}
