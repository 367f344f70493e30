/**
 * "Not tested", the rule CI relies on: a requested kernel that could not be had (an unknown version, a
 * package or tarball that is not there), whose patch did not apply, that did not build, whose guest could not
 * load the modules the stacks need, or on which no cell was judged at all (every cell skipped or errored), was
 * not tested. Such a kernel makes the run exit 125 unless a real failure makes it 1 (verdict/exit-code.ts), and the
 * end of the run names it once (reporters/line.ts), as summary.json does (`untested`).
 *
 * A scenario whose requirement the kernel legitimately lacks (a dm target or cipher its configuration does not
 * have, a kernel older than the scenario needs) is `skip` and leaves the kernel tested, as long as some other
 * cell on it was judged.
 */
import type { CellRecord, KernelRecord, Summary, UntestedKernel } from './results.ts';
import { isJudged } from './verdict/order.ts';

export type { UntestedKernel };


/** Every cell reason of a kernel whose guest could not provide what the stacks need starts with this. */
export const GUEST_UNTESTED_PREFIX = 'kernel not tested: ';

/**
 * Thrown in a booted guest when the kernel cannot be tested there although it should be: a module the stacks
 * need did not load (vm/image/init.sh's marker), a cipher whose module is in the image is not available. The
 * cell ends as `error` (it judged nothing, and it is not the kernel's fault that the harness could not test
 * it), its reason starts with GUEST_UNTESTED_PREFIX, and the kernel's other cells run no guest.
 */
export class KernelUntested extends Error {
  override name = 'KernelUntested';
  constructor(why: string) {
    super(`${GUEST_UNTESTED_PREFIX}${why}`);
  }
}

/** The part after the prefix, when a cell's reason says its kernel could not be tested in the guest. */
export function guestUntestedReason(reason: string): string | undefined {
  return reason.startsWith(GUEST_UNTESTED_PREFIX) ? reason.slice(GUEST_UNTESTED_PREFIX.length) : undefined;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

function kernelReason(k: KernelRecord): string {
  const what = k.status === 'unavailable' ? 'could not be had' : k.status === 'build-failed' ? 'did not build' : 'could not be prepared';
  return k.message !== undefined ? `${what}: ${oneLine(k.message)}` : what;
}

function cellsReason(cells: CellRecord[]): string {
  const guest = cells.map((c) => guestUntestedReason(c.reason)).find((r) => r !== undefined);
  if (guest !== undefined) return oneLine(guest);
  const skipped = cells.filter((c) => c.verdict === 'skip');
  if (skipped.length === cells.length) return `every cell (${cells.length}) skipped; first: ${cells[0]!.id}: ${oneLine(cells[0]!.reason)}`;
  const errored = cells.filter((c) => c.verdict === 'error');
  return `no cell judged (${errored.length} error, ${skipped.length} skip); first error: ${errored[0]!.id}: ${oneLine(errored[0]!.reason)}`;
}

/**
 * The untested kernels of a run, in the order of its kernel records. A kernel whose record is fine and that
 * has no cell in this run (a shard dealt none of its cells) is not untested: nothing was asked of it here.
 * Compat cells of a gate (a disk one kernel wrote, read by the other) do not count as either kernel's cells.
 */
export function untestedKernels(s: Pick<Summary, 'kernels' | 'cells'>): UntestedKernel[] {
  const out: UntestedKernel[] = [];
  for (const k of s.kernels) {
    const label = k.label !== undefined && k.label !== k.spec ? { label: k.label } : {};
    if (k.status !== 'ok') {
      out.push({ kernel: k.spec, ...label, reason: kernelReason(k) });
      continue;
    }
    const cells = s.cells.filter((c) => c.kernelSpec === k.spec && c.gate?.role !== 'compat');
    if (cells.length === 0 || cells.some((c) => isJudged(c.verdict))) continue;
    out.push({ kernel: k.spec, ...label, reason: cellsReason(cells) });
  }
  return out;
}

/** One line per untested kernel, for the end of a run. */
export function untestedLine(u: UntestedKernel): string {
  return `NOT TESTED kernel ${u.kernel}${u.label !== undefined ? ` (${u.label})` : ''}: ${u.reason}`;
}
