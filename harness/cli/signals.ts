/**
 * Ctrl-C and SIGTERM for every command that boots guests or builds kernels (matrix, gate, bisect, bisect-run):
 * the first signal aborts `signal` and starts the command's own stopping, whose exit code ends the process;
 * a later one ends it at once. The commands differ only in what stopping means (stop.ts: an interrupted run
 * with its summary; bisect: the worktree removed).
 */
import { liveGuests } from '../../vm/qemu/guest.ts';

export interface StopSignalHandlers {
  /** The first SIGINT or SIGTERM: stop and clean up; resolves with the process's exit code. */
  first(sig: NodeJS.Signals): Promise<number>;
  /** A later signal: whatever must still happen synchronously, then the exit code to leave with at once. */
  again(): number;
  /**
   * A terminal's Ctrl-C reaches npm and this process, and npm relays it again: a repeat within this many
   * milliseconds is the same Ctrl-C, not a second one.
   */
  sameWithinMs?: number;
}

export interface StopSignals {
  signal: AbortSignal;
  /** The exit code of the stopping once a signal came; undefined while none did. */
  stopping(): Promise<number> | undefined;
}

export function onStopSignals(h: StopSignalHandlers): StopSignals {
  const stop = new AbortController();
  let stopping: Promise<number> | undefined;
  let stoppingAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping !== undefined) {
      if (Date.now() - stoppingAt < (h.sameWithinMs ?? 0)) return;
      process.exit(h.again());
    }
    stoppingAt = Date.now();
    stop.abort();
    stopping = h.first(sig);
    void stopping.then((c) => process.exit(c));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: stop.signal, stopping: () => stopping };
}

/** Kills every guest this process started, each given a second to go (SIGTERM, then SIGKILL). */
export async function stopGuests(): Promise<void> {
  await Promise.all(liveGuests().map((g) => g.kill(1000)));
}

/** Kills every guest at once, for a forced exit that cannot wait. */
export function killGuestsNow(): void {
  for (const g of liveGuests()) if (g.pid !== undefined) process.kill(g.pid, 'SIGKILL');
}
