/**
 * Ctrl-C / SIGTERM for commands that boot guests (matrix, gate): the first signal stops booting, kills the
 * guests and finishes the run as interrupted; a later one exits at once, still leaving no QEMU and a summary.
 */
import { liveGuests } from '../../vm/qemu/guest.ts';
import type { LoadedRun } from '../baseline.ts';
import { finishRun } from '../finish.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { RunResults } from '../results.ts';

export interface StopHandle {
  signal: AbortSignal;
  /** The exit code of the interrupted run once a signal came; undefined while none did. */
  stopping(): Promise<number> | undefined;
}

export function handleStopSignals(results: RunResults, reporters: Reporters, log: (s: string) => void, baseline?: LoadedRun): StopHandle {
  const stop = new AbortController();
  let stopping: Promise<number> | undefined;
  let stoppingAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping !== undefined) {
      // A terminal's Ctrl-C reaches npm and this process, and npm relays it again: a repeat within a
      // second is the same Ctrl-C. A later one forces the exit, still leaving no QEMU and a summary.
      if (Date.now() - stoppingAt < 1000) return;
      for (const g of liveGuests()) if (g.pid !== undefined) process.kill(g.pid, 'SIGKILL');
      results.finishSync('interrupted', 130);
      process.exit(130);
    }
    stoppingAt = Date.now();
    stop.abort();
    log(`\n${sig}: stopping ${liveGuests().length} guest(s); the cells finished so far stay in ${results.dir}`);
    const code = sig === 'SIGINT' ? 130 : 143;
    stopping = (async () => {
      await Promise.all(liveGuests().map((g) => g.kill(1000)));
      await finishRun(results, 'interrupted', baseline, code);
      await reporters.emit('onEnd', results.summary, results.dir);
      return code;
    })();
    void stopping.then((c) => process.exit(c));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: stop.signal, stopping: () => stopping };
}
