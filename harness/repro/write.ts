/**
 * Puts a failing cell's reproducer in `<cell>/repro/`: the generated script and expectation files
 * (script.ts), the payload its writes copy (the first bytes of the cell's payload disk), and the fixed
 * helpers (files/lib.sh, files/check.awk, and vm/agent/io.c for machines without ih-io). A cell the
 * generator cannot replay gets `repro/NOT-GENERATED.txt` with the reason instead; never an exception,
 * so a reproducer never changes a cell's verdict.
 */
import { copyFile, chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scenario } from '../scenario/load.ts';
import { readAt } from '../run/session/disks.ts';
import type { CellResult } from '../run/session/observations.ts';
import { isFailure } from '../verdict/order.ts';
import { generateRepro } from './script.ts';

const HERE = new URL('.', import.meta.url).pathname;
const FIXED = [
  { from: join(HERE, 'files', 'lib.sh'), to: 'lib.sh' },
  { from: join(HERE, 'files', 'check.awk'), to: 'check.awk' },
  { from: join(HERE, '..', '..', 'vm', 'agent', 'io.c'), to: 'io.c' },
];

/** Verdicts that get a reproducer: the kernel misbehaved. */
export function wantsRepro(verdict: CellResult['verdict']): boolean {
  return isFailure(verdict);
}

/** What of a cell the generator reads (a CellSpec has it; named here so the run's bottom need not be imported). */
export interface ReproCell {
  id: string;
  dir: string;
  scenario: Scenario;
  phase?: 'write' | 'read';
}

export async function writeRepro(spec: ReproCell, result: CellResult): Promise<void> {
  const dir = join(spec.dir, 'repro');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    if (spec.phase !== undefined) throw new Error(`a compatibility cell (${spec.phase} phase) needs two kernels: not replayed by one script`);
    const repro = generateRepro({
      cellId: spec.id, scenarioId: spec.scenario.id, stepTimeoutSec: spec.scenario.stepTimeout,
      disks: spec.scenario.disks.map((d) => ({ name: d.name, size: d.size })), result, steps: result.steps,
    });
    for (const [name, body] of repro.files) await writeFile(join(dir, name), body);
    await chmod(join(dir, 'repro.sh'), 0o755);
    const payload = repro.payloadBytes > 0 ? await readAt(join(spec.dir, 'disks', 'payload.img'), 0, repro.payloadBytes) : Buffer.alloc(0);
    if (payload.length !== repro.payloadBytes) throw new Error(`disks/payload.img holds ${payload.length} of the ${repro.payloadBytes} payload bytes the steps copied`);
    await writeFile(join(dir, 'payload.bin'), payload);
    for (const f of FIXED) await copyFile(f.from, join(dir, f.to));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'NOT-GENERATED.txt'), `No reproducer for ${spec.id}: ${(e as Error).message}\n`);
  }
}
