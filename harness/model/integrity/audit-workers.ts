/**
 * Spreads an audit's runs of blocks over worker threads (audit-worker.ts) while the calling thread judges
 * them in image order: the audit stays synchronous and its report is the same as on one thread, because
 * only verifyRun/plaintextRun move (a run that does not verify is still judged block by block here).
 *
 * Protocol: a SharedArrayBuffer of slots, each a run's plaintext plus a state word. Runs are dealt to the
 * workers round robin, at most `slots` ahead of the one being judged; the judge blocks in Atomics.wait on
 * the state of the next run in order. Workers stay alive (unref'd) between audits: starting one costs a
 * TypeScript loader, far more than a small audit.
 */
import { cpus } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { SLOT_FAILED, SLOT_NOT_VERIFIED, SLOT_VERIFIED, type BeginMessage, type JobMessage, type WorkerMessage } from './audit-worker-protocol.ts';
import type { RunOffload } from './verifier.ts';

export interface RunJob {
  ls0: number;
  n: number;
  dataAt: number;
  tagAt: number;
}

export interface RunResult {
  job: RunJob;
  /** the run's plaintext when every block verifies (valid until the next result); undefined otherwise */
  plain: Buffer | undefined;
}

export interface OffloadTarget {
  offload: RunOffload;
  data: string;
  meta?: string;
  blockSize: number;
  tagSize: number;
  /** the largest run in bytes */
  maxRunBytes: number;
}

/** How long the judge waits for one run before it calls the workers stuck. */
const RUN_TIMEOUT_MS = 120_000;

interface PoolWorker {
  worker: Worker;
  errors: MessagePort;
}
const pool: PoolWorker[] = [];

function startWorker(): PoolWorker {
  const { port1, port2 } = new MessageChannel();
  const entry = new URL('./audit-worker.ts', import.meta.url).href;
  const worker = new Worker(new URL('./audit-worker-boot.mjs', import.meta.url), { workerData: { entry, errors: port2 }, transferList: [port2] });
  worker.unref();
  port1.unref();
  // a worker that dies shows in its error port or as a run that never finishes; keep the event from crashing
  worker.on('error', () => {});
  return { worker, errors: port1 };
}

/** The default thread count: one per CPU, at least 2 (with 1 the audit stays on the calling thread). */
export function defaultAuditWorkers(): number {
  return Math.max(2, cpus().length);
}

/** Terminates the pooled workers (tests; a process may also just exit). */
export async function closeAuditWorkers(): Promise<void> {
  const all = pool.splice(0);
  await Promise.all(all.map((w) => w.worker.terminate()));
}

/** The results of `jobs`, in their order, computed by `workers` threads. */
export function* offloadRuns(t: OffloadTarget, jobs: Iterable<RunJob>, workers: number): Generator<RunResult> {
  while (pool.length < workers) pool.push(startWorker());
  const used = pool.slice(0, workers);
  const slots = 3 * workers;
  const slotBytes = t.maxRunBytes;
  const control = new SharedArrayBuffer(4 * (slots + 1));
  const state = new Int32Array(control);
  const shared = new SharedArrayBuffer(slots * slotBytes);
  const begin: BeginMessage = { type: 'begin', module: t.offload.module, params: t.offload.params, data: t.data, ...(t.meta !== undefined ? { meta: t.meta } : {}), blockSize: t.blockSize, tagSize: t.tagSize, control, slots: shared, slotBytes };
  const post = (w: PoolWorker, m: WorkerMessage) => w.worker.postMessage(m);
  for (const w of used) post(w, begin);
  const it = jobs[Symbol.iterator]();
  const inFlight: RunJob[] = []; // inFlight[k] is in slot (first + k) % slots
  let dealt = 0;
  let first = 0;
  const deal = () => {
    const next = it.next();
    if (next.done) return false;
    const slot = dealt % slots;
    Atomics.store(state, slot, 0);
    const m: JobMessage = { type: 'job', slot, ...next.value };
    post(used[dealt % workers]!, m);
    inFlight.push(next.value);
    dealt++;
    return true;
  };
  try {
    while (inFlight.length < slots && deal());
    while (inFlight.length > 0) {
      const slot = first % slots;
      waitFor(state, slot, used);
      const job = inFlight.shift()!;
      const s = Atomics.load(state, slot);
      const plain = s === SLOT_VERIFIED ? Buffer.from(shared, slot * slotBytes, job.n * t.blockSize) : undefined;
      yield { job, plain };
      first++;
      deal();
    }
  } finally {
    Atomics.store(state, slots, 1);
    for (const w of used) post(w, { type: 'end' });
  }
}

function waitFor(state: Int32Array, slot: number, workers: PoolWorker[]): void {
  const t0 = Date.now();
  for (;;) {
    const s = Atomics.load(state, slot);
    if (s === SLOT_VERIFIED || s === SLOT_NOT_VERIFIED) return;
    for (const w of workers) {
      const m = receiveMessageOnPort(w.errors);
      if (m) throw new Error(String(m.message));
    }
    if (s === SLOT_FAILED) throw new Error('audit worker failed on a run (no message)');
    if (Date.now() - t0 > RUN_TIMEOUT_MS) throw new Error(`audit worker did not finish a run in ${RUN_TIMEOUT_MS / 1000} s`);
    Atomics.wait(state, slot, 0, 100);
  }
}
