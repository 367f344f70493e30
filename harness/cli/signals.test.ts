/**
 * One signal handler for every command that boots guests: a child process takes its signals through
 * onStopSignals, and what it prints and its exit code say which handler ran.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ih-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// .mts: outside the package a .ts file would load as CommonJS
const child = join(dir, 'child.mts');
writeFileSync(child, `
import { onStopSignals } from ${JSON.stringify(resolve(import.meta.dirname, 'signals.ts'))};
const s = onStopSignals({
  sameWithinMs: Number(process.env.SAME_MS),
  first: async (sig) => {
    process.stdout.write('first ' + sig + ' aborted=' + s.signal.aborted + '\\n');
    await new Promise((r) => setTimeout(r, Number(process.env.STOP_MS)));
    return 42;
  },
  again: () => { process.stdout.write('again\\n'); return 7; },
});
process.stdout.write('ready\\n');
setInterval(() => undefined, 1000);
`);

async function runChild(env: { SAME_MS: number; STOP_MS: number }, signals: Array<{ sig: NodeJS.Signals; afterMs: number }>) {
  const p = execa('node', ['--import', 'tsx', child], { cwd: resolve(import.meta.dirname, '../..'), env: { SAME_MS: String(env.SAME_MS), STOP_MS: String(env.STOP_MS) }, reject: false });
  // a child that dies before it is ready fails the test with its stderr instead of waiting for the timeout
  await Promise.race([
    new Promise<void>((r) => p.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) r(); })),
    p.then((x) => { throw new Error(`the child ended before it was ready: ${x.stderr}`); }),
  ]);
  for (const s of signals) {
    await new Promise((r) => setTimeout(r, s.afterMs));
    p.kill(s.sig);
  }
  return p;
}

describe('onStopSignals', () => {
  it('aborts and runs the command\'s stopping on the first signal, exiting with its code', async () => {
    const r = await runChild({ SAME_MS: 0, STOP_MS: 100 }, [{ sig: 'SIGTERM', afterMs: 0 }]);
    expect(r.stdout.trim().split('\n')).toEqual(['ready', 'first SIGTERM aborted=true']);
    expect(r.exitCode).toBe(42);
  }, 30_000);

  it('exits at once on a later signal, with what `again` returns', async () => {
    const r = await runChild({ SAME_MS: 0, STOP_MS: 20_000 }, [{ sig: 'SIGINT', afterMs: 0 }, { sig: 'SIGINT', afterMs: 300 }]);
    expect(r.stdout.trim().split('\n')).toEqual(['ready', 'first SIGINT aborted=true', 'again']);
    expect(r.exitCode).toBe(7);
  }, 30_000);

  it('takes a repeat within sameWithinMs for the same signal relayed (npm), not a second one', async () => {
    const r = await runChild({ SAME_MS: 5_000, STOP_MS: 1_000 }, [{ sig: 'SIGINT', afterMs: 0 }, { sig: 'SIGINT', afterMs: 100 }]);
    expect(r.stdout.trim().split('\n')).toEqual(['ready', 'first SIGINT aborted=true']);
    expect(r.exitCode).toBe(42);
  }, 30_000);
});
