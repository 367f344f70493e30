/**
 * Ctrl-C / SIGTERM for commands that run cells (matrix, gate; signals.ts does the signalling): the first
 * signal stops booting, kills the guests and finishes the run as interrupted; a later one exits at once,
 * still leaving no QEMU and a summary.
 */
import { liveGuests } from '../../vm/qemu/guest.ts';
import type { LoadedRun } from '../load-run.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { RunResults } from '../results.ts';
import { endRun } from './end-run.ts';
import { killGuestsNow, onStopSignals, stopGuests, type StopSignals } from './signals.ts';

export type StopHandle = StopSignals;

export function handleStopSignals(results: RunResults, reporters: Reporters, log: (s: string) => void, baseline?: LoadedRun): StopHandle {
  return onStopSignals({
    sameWithinMs: 1000,
    first: async (sig) => {
      log(`\n${sig}: stopping ${liveGuests().length} guest(s); the cells finished so far stay in ${results.dir}`);
      const code = sig === 'SIGINT' ? 130 : 143;
      await stopGuests();
      return endRun(results, reporters, 'interrupted', { ...(baseline !== undefined ? { baseline } : {}), forcedExit: code });
    },
    again: () => {
      killGuestsNow();
      results.finishSync('interrupted', 130);
      return 130;
    },
  });
}
