/**
 * Boot amortisation: executions are run in batches, one booted guest per batch, one scenario after the
 * other (docs/ARCHITECTURE.md, "Shared guests"). This is the scheduling alone, over an abstract VM layer, so
 * its rules are tested without QEMU:
 *
 * - A batch holds executions with the same guest key (kernel, image, memory, CPUs, command line), at most
 *   `perGuest` of them and at most `budget` disks (every scenario brings its own fresh disks, attached
 *   when the guest boots).
 * - Nothing the kernel did in a shared guest is lost. A later execution (not the first of its guest) that
 *   does not pass or skip is run again first in a fresh guest (`provisional`); the caller keeps both runs
 *   (a crash, hang or fail in the sequence stays the verdict, the fresh run says whether it needs the
 *   sequence), and an infrastructure `error` in the sequence counts for nothing. Each guest key (a kernel)
 *   gets at most `rerunCap` such fresh-guest reruns: past that, a crash, hang or fail in the sequence is
 *   final as it is, with the reason why it was not run again, so a kernel that fails much of the library
 *   does not boot a guest for every failure.
 * - An execution that passed, skipped or failed is decided only once the console after its end has been
 *   read (`after`): up to the next scenario's begin, or to QEMU's end for the last one. A crash there is
 *   found after it ended and is its own.
 * - A guest that is not reusable (its scenario crashed, hung or erred, it left state behind, or it stopped
 *   answering) is retired; the executions of its batch that did not run go to a fresh guest. A scenario
 *   that failed (the kernel disagreed with the model) and left the guest clean hands it on: the failure is
 *   in its record, and the guest's state check says nothing was left behind.
 */
import type { Scenario } from '../../scenario/load.ts';
import type { Verdict } from '../../verdict/types.ts';

/** Verdicts that need no fresh-guest rerun when they come later in a guest. */
const SHAREABLE: ReadonlySet<Verdict> = new Set(['pass', 'skip']);
/** Verdicts a scenario may end with and still hand a guest that passed its state check to the next one. */
const CONTINUES: ReadonlySet<Verdict> = new Set(['pass', 'skip', 'fail']);
/** Fresh-guest reruns per guest key (kernel) in the matrix: the evidence of the first few, at a boot each. */
export const RERUNS_PER_KERNEL = 3;

export interface SlotRun {
  verdict: Verdict;
  /** whether the next scenario may run in this guest */
  reusable: boolean;
}

export interface SharedGuestHandle<X, R extends SlotRun> {
  /** Runs x as the position-th scenario of this guest (position 0 boots it). */
  run(x: X, position: number): Promise<R>;
  /**
   * x's run judged again with what the console showed after x ended (a crash or a reset before the next
   * scenario began, or before QEMU's end): undefined when that showed nothing. Asked once the next
   * scenario has run, or once the guest is closed.
   */
  after?(x: X): Promise<R | undefined>;
  /** Ends the guest (powers it off or kills it). */
  close(): Promise<void>;
}

export interface SharedVm<X, R extends SlotRun> {
  /** A guest with disk slots for the whole batch; it boots on its first run(). */
  open(batch: X[]): Promise<SharedGuestHandle<X, R>>;
  // open() and run() turn every failure into a result (an `error` verdict): the schedule cannot.
}

export interface ShareOptions<X> {
  perGuest: number;
  jobs: number;
  guestKey(x: X): string;
  /** disks x attaches */
  weight(x: X): number;
  /** most disks one guest gets */
  budget: number;
  /**
   * Items of one class are kept apart in a guest where the queue allows (the next item is, if possible, of
   * another class than the one before it): scenarios whose counted kernel lines share dm's ratelimit
   * windows (guest-state.ts) then need not wait for each other.
   */
  spread?(x: X): string;
  /** most fresh-guest reruns per guest key (default: no limit) */
  rerunCap?: number;
  stop?: AbortSignal;
}

export interface ShareCallbacks<X, R extends SlotRun> {
  /**
   * A run that counts; return true to run x again (a retried infrastructure error). `notRerun` says why a
   * crash, hang or fail later in a guest was not run again first in a fresh one.
   */
  final(x: X, r: R, position: number, notRerun?: string): Promise<boolean>;
  /** A run that does not count: x will run again first in a fresh guest. */
  provisional?(x: X, r: R, position: number): Promise<void>;
}

interface Pending<X> {
  x: X;
  /** must be the first scenario of its guest */
  first: boolean;
}

/**
 * Takes the next batch from the front of the queue (removing it), or undefined when the queue is empty.
 * inFlight(key): how many executions of that guest key running guests have still to run.
 */
export function takeBatch<X>(
  queue: Pending<X>[],
  o: Pick<ShareOptions<X>, 'perGuest' | 'jobs' | 'guestKey' | 'weight' | 'budget' | 'spread'>,
  inFlight: (key: string) => number = () => 0,
): X[] | undefined {
  const head = queue[0];
  if (head === undefined) return undefined;
  const key = o.guestKey(head.x);
  const sameKey = queue.filter((p) => o.guestKey(p.x) === key).length;
  // Each worker's fair share of what is left, counting what running guests still hold: at the start every
  // worker takes an equal batch (one boot each when they fit in a guest), near the end what is left is split
  // rather than one worker left idle.
  const size = Math.max(1, Math.min(o.perGuest, Math.ceil((sameKey + inFlight(key)) / o.jobs)));
  const batch: X[] = [head.x];
  let disks = o.weight(head.x);
  const taken = new Set<number>([0]);
  const fits = (i: number): boolean => {
    const p = queue[i]!;
    return !taken.has(i) && !p.first && o.guestKey(p.x) === key && disks + o.weight(p.x) <= o.budget;
  };
  while (batch.length < size) {
    let pick: number | undefined;
    for (let i = 1; i < queue.length; i++) {
      if (!fits(i)) continue;
      pick ??= i;
      if (o.spread === undefined || o.spread(queue[i]!.x) !== o.spread(batch.at(-1)!)) {
        pick = i;
        break;
      }
    }
    if (pick === undefined) break;
    batch.push(queue[pick]!.x);
    disks += o.weight(queue[pick]!.x);
    taken.add(pick);
  }
  const rest = queue.filter((_, i) => !taken.has(i));
  queue.splice(0, queue.length, ...rest);
  return batch;
}

/** Runs every item through shared guests, at most `jobs` guests at a time. */
export async function runShared<X, R extends SlotRun>(items: X[], o: ShareOptions<X>, vm: SharedVm<X, R>, cb: ShareCallbacks<X, R>): Promise<void> {
  const queue: Pending<X>[] = items.map((x) => ({ x, first: false }));
  const closing: Array<Promise<void>> = [];
  const waiting: Array<() => void> = [];
  const changed = () => {
    for (const w of waiting.splice(0)) w();
  };

  const reruns = new Map<string, number>();
  // per running batch: its guest key and how many of its executions have not started yet
  type Running = { key: string; left: number };
  const inGuests = new Set<Running>();
  const inFlight = (key: string): number => [...inGuests].reduce((n, b) => n + (b.key === key ? b.left : 0), 0);

  /** Runs a batch; resolves, once its last scenario has run, with the guest's power-off and what waits for it. */
  const runBatch = async (batch: X[], mine: Running): Promise<{ tail: Promise<void> }> => {
    const guest = await vm.open(batch);
    const back: Pending<X>[] = [];
    const decide = async (x: X, r: R, pos: number): Promise<void> => {
      let notRerun: string | undefined;
      if (pos > 0 && !SHAREABLE.has(r.verdict)) {
        const key = o.guestKey(x);
        const used = reruns.get(key) ?? 0;
        if (used < (o.rerunCap ?? Infinity)) {
          reruns.set(key, used + 1);
          await cb.provisional?.(x, r, pos);
          back.push({ x, first: true });
          return;
        }
        notRerun = `not run again first in a fresh guest: this kernel's ${o.rerunCap} reruns are spent`;
      }
      if (await cb.final(x, r, pos, notRerun)) back.push({ x, first: false });
    };
    // a run that passed or skipped, waiting for the console after its end
    let held: { x: X; r: R; pos: number } | undefined;
    const release = async (): Promise<void> => {
      if (held === undefined) return;
      const h = held;
      held = undefined;
      const later = guest.after !== undefined ? await guest.after(h.x) : undefined;
      await decide(h.x, later ?? h.r, h.pos);
    };
    // Whatever has to run again goes first, so cells still finish roughly in plan order.
    const requeue = () => {
      if (!o.stop?.aborted) queue.unshift(...back.splice(0));
    };
    try {
      for (const [pos, x] of batch.entries()) {
        if (o.stop?.aborted) break;
        mine.left = batch.length - pos - 1;
        const r = await guest.run(x, pos);
        await release();
        if (CONTINUES.has(r.verdict)) held = { x, r, pos };
        else await decide(x, r, pos);
        if (!r.reusable || !CONTINUES.has(r.verdict)) {
          back.push(...batch.slice(pos + 1).map((y) => ({ x: y, first: false })));
          break;
        }
      }
    } finally {
      requeue();
    }
    // The guest powers off (~1 s under TCG) while this worker already prepares its next batch; the last
    // run is decided after that, with the console to QEMU's end.
    const tail = (async () => {
      await guest.close();
      await release();
      requeue();
    })();
    return { tail };
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      if (o.stop?.aborted) return;
      const batch = takeBatch(queue, o, inFlight);
      if (batch === undefined) {
        if (inGuests.size === 0) return;
        await new Promise<void>((r) => waiting.push(r));
        continue;
      }
      const mine: Running = { key: o.guestKey(batch[0]!), left: batch.length };
      inGuests.add(mine);
      let tail: Promise<void> | undefined;
      try {
        tail = (await runBatch(batch, mine)).tail;
      } finally {
        // the batch counts as running until its last run is decided: what that puts back must find a worker
        const done = () => {
          inGuests.delete(mine);
          changed();
        };
        if (tail === undefined) done();
        else closing.push(tail.finally(done));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  } finally {
    await Promise.all(closing);
  }
}

/**
 * A scenario with a kill step ends its QEMU from the host and boots a second one on its disks: it cannot
 * share a guest with anyone, so the matrix runs it in a guest of its own whatever --share-guest says.
 */
export function needsOwnGuest(scenario: Pick<Scenario, 'steps'>): boolean {
  return scenario.steps.some((s) => typeof s === 'object' && 'kill' in s);
}
