// Audit worker bootstrap: worker threads do not inherit the parent's `--import tsx` loader (Node 20), so
// register it here before loading the TypeScript entry. A failure to start is reported on the error port
// the audit polls while it waits, since the worker's 'error' event cannot reach a thread blocked in
// Atomics.wait.
import { workerData } from 'node:worker_threads';

try {
  const { register } = await import('tsx/esm/api');
  register();
  await import(workerData.entry);
} catch (e) {
  workerData.errors.postMessage(`audit worker failed to start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
}
