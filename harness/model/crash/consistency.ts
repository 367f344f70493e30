/**
 * What a dm-integrity device may return after a power cut, from the workload alone.
 *
 * A workload is a list of operations run one after another on the top device: writes (O_DIRECT, some
 * with FUA) and flushes. At a crash point the runner's marks say that operations [0, completed) had
 * returned and operations [0, issued) may have sent I/O. For each block:
 * - its floor is the last write to it that was durable: a FUA write that returned, or a write that
 *   returned before a flush that returned; without one, the content before the workload ("old");
 * - its candidates are the floor and every later write to it that may have been issued. A block can
 *   never go back behind its floor (a later write to the same sector replaces the cached one) nor show a
 *   write not yet issued.
 *
 * What each dm-integrity mode promises on top (Documentation/admin-guide/device-mapper/dm-integrity.rst,
 * drivers/md/dm-integrity.c):
 * - journal (J): data and tag go through the journal and are committed together; replay at open makes
 *   every block one of its candidates, and no read fails.
 * - bitmap (B): no atomicity, but a block is written only after its bitmap bit is durable, and open
 *   recalculates the tags of dirty regions (reads there are not checked until then): no read fails, and
 *   a block holds one of its candidates (the replay never tears inside one bio).
 * - direct (D): no atomicity and no recovery: data and tag of a block with an unflushed write may
 *   disagree, so such a block may fail with EILSEQ; it must never return data that is none of its
 *   candidates. A block with no write after its floor must read its floor.
 */
import { ModelInputError } from '../errors.ts';

export type CrashMode = 'journal' | 'bitmap' | 'direct';

export interface ModePromise {
  /** a block with more than one candidate may fail to read */
  pendingMayFail: boolean;
  /** once the device was opened (recovery) and closed again, every block's tag on disk matches its data */
  tagsConsistentAfterClose: boolean;
  text: string;
}

export const MODE_PROMISES: Record<CrashMode, ModePromise> = {
  journal: { pendingMayFail: false, tagsConsistentAfterClose: true, text: 'every block old or new, no read fails, every tag on disk valid after close (journal replay)' },
  // Recalculation runs in the background and may not have reached a dirty region when the device closes.
  bitmap: { pendingMayFail: false, tagsConsistentAfterClose: false, text: 'every block old or new, no read fails (dirty regions recalculated at open)' },
  direct: { pendingMayFail: true, tagsConsistentAfterClose: false, text: 'never wrong data without an error; EILSEQ only on blocks with unflushed writes' },
};

/** The stacks a crash step runs on: dm-integrity alone, or dm-crypt AEAD over it (dmsetup tables or LUKS2). */
export type CrashStackKind = 'integrity' | 'crypt-aead' | 'luks2';

/**
 * What the promise means for dm-crypt AEAD over dm-integrity: the tags are dm-crypt's tuples (auth tag +
 * random IV), so "tag" reads "authenticates", and a read that fails is dm-crypt's -EBADMSG, EILSEQ to the
 * reader. The flags are dm-integrity's: dm-crypt adds no recovery of its own.
 */
const AEAD_PROMISE_TEXT: Record<CrashMode, string> = {
  journal: 'every sector old or new and authenticates, no read fails, every tuple on disk authenticates after close (journal replay)',
  bitmap: 'every sector old or new, no read fails (dirty regions recalculated at open)',
  direct: 'torn sectors may fail with EILSEQ (the AEAD rejects data and tuple of different writes), but no read returns wrong plaintext; a sector with nothing pending reads its floor',
};

export function promiseText(kind: CrashStackKind, mode: CrashMode): string {
  return kind === 'integrity' ? MODE_PROMISES[mode].text : AEAD_PROMISE_TEXT[mode];
}

export type WorkloadOp =
  | { kind: 'write'; offset: number; data: Buffer; fua: boolean }
  | { kind: 'flush' };

export interface WorkloadProgress {
  /** operations [0, completed) had returned */
  completed: number;
  /** operations [0, issued) may have sent I/O */
  issued: number;
}

/** -1 is the content before the workload. */
export type Version = number;

export interface BlockExpectation {
  floor: Version;
  /** floor first, then later writes in order */
  candidates: Version[];
  mayFail: boolean;
}

export interface CrashFinding {
  block: number;
  /** lost-write | future-write | foreign-data | integrity-error */
  kind: string;
  expected: string;
  found: string;
}

const describe = (v: Version) => (v < 0 ? 'old' : `op ${v}`);

export class CrashConsistencyModel {
  readonly blocks: number;
  private readonly writers = new Map<number, number[]>();

  constructor(
    readonly mode: CrashMode,
    readonly blockSize: number,
    /** the device's content before the workload, blocks * blockSize bytes */
    private readonly old: Buffer,
    readonly ops: WorkloadOp[],
    /**
     * Blocks whose content before the workload cannot be read: AEAD sectors never written (no valid tuple),
     * so their "old" is a read that fails with EILSEQ.
     */
    private readonly oldUnreadable: ReadonlySet<number> = new Set(),
  ) {
    if (old.length % blockSize !== 0) throw new ModelInputError(`old image of ${old.length} bytes is not whole ${blockSize}-byte blocks`);
    this.blocks = old.length / blockSize;
    ops.forEach((op, i) => {
      if (op.kind !== 'write') return;
      if (op.offset % blockSize || op.data.length % blockSize || op.data.length === 0) {
        throw new ModelInputError(`op ${i}: write ${op.offset}+${op.data.length} is not whole ${blockSize}-byte blocks`);
      }
      if (op.offset + op.data.length > old.length) throw new ModelInputError(`op ${i}: write ends beyond the ${old.length}-byte device`);
      for (let b = op.offset / blockSize; b < (op.offset + op.data.length) / blockSize; b++) {
        const list = this.writers.get(b) ?? [];
        list.push(i);
        this.writers.set(b, list);
      }
    });
  }

  /** Blocks some operation writes. */
  touched(): number[] {
    return [...this.writers.keys()].sort((a, b) => a - b);
  }

  /** Every version `block` can hold in some run of the workload: old, then each write to it in order. */
  versions(block: number): Version[] {
    return [-1, ...(this.writers.get(block) ?? [])];
  }

  /** The bytes version `v` puts in `block`; undefined for an old block that cannot be read. */
  content(block: number, v: Version): Buffer | undefined {
    const at = block * this.blockSize;
    if (v < 0) return this.oldUnreadable.has(block) ? undefined : this.old.subarray(at, at + this.blockSize);
    const op = this.ops[v];
    if (op?.kind !== 'write') throw new ModelInputError(`op ${v} is not a write`);
    return op.data.subarray(at - op.offset, at - op.offset + this.blockSize);
  }

  durable(op: number, p: WorkloadProgress): boolean {
    const o = this.ops[op];
    if (o?.kind !== 'write' || op >= p.completed) return false;
    if (o.fua) return true;
    for (let f = op + 1; f < p.completed; f++) if (this.ops[f]!.kind === 'flush') return true;
    return false;
  }

  expect(block: number, p: WorkloadProgress): BlockExpectation {
    const ws = this.writers.get(block) ?? [];
    let floor: Version = -1;
    for (const w of ws) if (this.durable(w, p)) floor = w;
    const candidates = [floor, ...ws.filter((w) => w > floor && w < p.issued)];
    return { floor, candidates, mayFail: candidates.length > 1 && MODE_PROMISES[this.mode].pendingMayFail };
  }

  /** Judges one block read back after the crash: undefined when the mode's promise holds. */
  judge(block: number, p: WorkloadProgress, errno: number, data: Buffer): CrashFinding | undefined {
    return this.judgeHolding(block, p, errno, (v) => this.content(block, v)?.equals(data) ?? false);
  }

  /**
   * judge() where the block is known only by what it equals: `holds(v)` says whether it holds version v's
   * bytes (a stored read-back keeps a digest per block, not the bytes).
   */
  judgeHolding(block: number, p: WorkloadProgress, errno: number, holds: (v: Version) => boolean): CrashFinding | undefined {
    const exp = this.expect(block, p);
    const allowed = exp.candidates.map(describe).join(' or ');
    if (errno !== 0) {
      if (exp.mayFail) return undefined;
      if (exp.candidates.some((v) => this.content(block, v) === undefined)) return undefined;
      return { block, kind: 'integrity-error', expected: `reads ${allowed}`, found: `errno ${errno}` };
    }
    if (exp.candidates.some(holds)) return undefined;
    const ws = this.writers.get(block) ?? [];
    const older = [-1, ...ws.filter((w) => w < exp.floor)].find(holds);
    if (older !== undefined) return { block, kind: 'lost-write', expected: allowed, found: `${describe(older)} (behind durable ${describe(exp.floor)})` };
    const future = ws.find((w) => w >= p.issued && holds(w));
    if (future !== undefined) return { block, kind: 'future-write', expected: allowed, found: `${describe(future)}, not issued yet` };
    return { block, kind: 'foreign-data', expected: allowed, found: 'bytes of no write to this block' };
  }
}
