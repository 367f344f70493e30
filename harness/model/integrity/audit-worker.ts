/**
 * Audit worker thread: verifies and decrypts runs of blocks for audit-workers.ts. It reads the image itself
 * (its own file descriptors), runs the verifier's run kernel (BlockVerifier.runOffload), writes the plaintext
 * of a run that verifies into the shared slot, and sets the slot's state: 1 all verify, 2 not all (the
 * audit judges that run block by block itself), 3 failed (the message went to the error port).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { openImage, type ImageSource } from '../image-source.ts';
import { SLOT_FAILED, SLOT_NOT_VERIFIED, SLOT_VERIFIED, type BeginMessage, type JobMessage, type WorkerMessage } from './audit-worker-protocol.ts';
import type { RunKernel } from './verifier.ts';

interface Audit {
  begin: BeginMessage;
  kernel: RunKernel;
  control: Int32Array;
  data: ImageSource;
  tags: ImageSource;
  dataScratch: Buffer;
  tagScratch: Buffer;
}

const errors = (workerData as { errors: MessagePort }).errors;
let audit: Audit | undefined;

async function begin(m: BeginMessage): Promise<void> {
  const mod = (await import(m.module)) as { runKernel(params: unknown): RunKernel };
  const data = openImage(m.data);
  const tags = m.meta !== undefined ? openImage(m.meta) : data;
  const maxBlocks = m.slotBytes / m.blockSize;
  const kernel = mod.runKernel(m.params);
  const scratch = kernel.runBuffers?.(maxBlocks) ?? { data: Buffer.allocUnsafe(m.slotBytes), tags: Buffer.allocUnsafe(maxBlocks * m.tagSize) };
  audit = { begin: m, kernel, control: new Int32Array(m.control), data, tags, dataScratch: scratch.data, tagScratch: scratch.tags };
}

function job(a: Audit, m: JobMessage): void {
  const { blockSize: bs, tagSize: ts, slotBytes } = a.begin;
  const slots = a.control.length - 1;
  if (Atomics.load(a.control, slots) === 1) return;
  const data = a.data.read(m.dataAt, m.n * bs, a.dataScratch);
  const tags = a.tags.read(m.tagAt, m.n * ts, a.tagScratch);
  let state = SLOT_NOT_VERIFIED;
  if (a.kernel.verifyRun(m.ls0, data, tags, m.n)) {
    a.kernel.plaintextInto(m.ls0, data, tags, m.n, new Uint8Array(a.begin.slots, m.slot * slotBytes, m.n * bs));
    state = SLOT_VERIFIED;
  }
  Atomics.store(a.control, m.slot, state);
  Atomics.notify(a.control, m.slot);
}

function end(): void {
  if (!audit) return;
  audit.data.close();
  if (audit.tags !== audit.data) audit.tags.close();
  audit = undefined;
}

// messages in order, one at a time: a job may arrive while `begin` still imports the kernel
let chain = Promise.resolve();
parentPort!.on('message', (m: WorkerMessage) => {
  chain = chain.then(async () => {
    try {
      if (m.type === 'begin') await begin(m);
      else if (m.type === 'end') end();
      else if (audit) job(audit, m);
    } catch (e) {
      errors.postMessage(`audit worker: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      if (m.type === 'job' && audit) {
        Atomics.store(audit.control, m.slot, SLOT_FAILED);
        Atomics.notify(audit.control, m.slot);
      }
    }
  });
});
