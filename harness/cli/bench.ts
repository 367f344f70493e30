/**
 * npm run bench [-- --only audit,boot,cells] [--kernel 6.1] [--runs 3]
 *
 * Speed targets are measured here, never in timed unit tests. Prints a table and writes
 * results/bench-<time>.json. Run it on a quiet machine: every number is wall time.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../../vm/cache.ts';
import { AUDIT_BENCH_KINDS, benchAudit, formatAuditBench } from '../bench/audit.ts';
import { benchBoot } from '../bench/boot.ts';
import { benchCells } from '../bench/cells.ts';
import { prepareGuestKernel } from '../test/guest-fixture.ts';

const SECTIONS = ['audit', 'boot', 'cells'] as const;

async function main(argv: string[]): Promise<number> {
  const o = new Command('bench')
    .option('--only <sections>', `comma-separated: ${SECTIONS.join(',')}`, SECTIONS.join(','))
    .option('--kernel <spec>', 'kernel for boot and cells', '6.1')
    .option('--runs <n>', 'repetitions for audit and boot (best / median is reported)', '3')
    .option('--scenario <glob>', 'limit the cells section to these scenarios')
    .parse(argv, { from: 'user' })
    .opts<{ only: string; kernel: string; runs: string; scenario?: string }>();
  const only = o.only.split(',').map((s) => s.trim());
  const bad = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (bad.length > 0) {
    process.stderr.write(`bench: --only ${bad.join(',')}: expected some of ${SECTIONS.join(',')}\n`);
    return 255;
  }
  const runs = Number(o.runs);
  const dir = mkdtempSync(join(tmpdir(), 'ih-bench-'));
  const out: Record<string, unknown> = { at: new Date().toISOString(), kernel: o.kernel };
  const say = (s: string) => process.stdout.write(`${s}\n`);
  try {
    if (only.includes('audit')) {
      for (const kind of AUDIT_BENCH_KINDS) {
        const r = benchAudit(dir, kind, 256, runs);
        (out.audit ??= []) as unknown[];
        (out.audit as unknown[]).push(r);
        say(formatAuditBench(r));
        rmSync(join(dir, `audit-${kind}.img`), { force: true });
      }
    }
    if (only.includes('boot') || only.includes('cells')) {
      const gk = await prepareGuestKernel(o.kernel);
      if (only.includes('boot')) {
        const r = await benchBoot(gk, dir, 'tcg', runs);
        out.boot = r;
        say(`boot ${gk.kernel.label}: bare ${r.bareMs.join('/')} ms, harness agent-ready+poweroff ${r.agentReadyMs.join('/')} ms, ratio ${r.ratio.toFixed(2)} (goal <= 1.2)`);
      }
      if (only.includes('cells')) {
        const cells = [];
        for (const jobs of [1, 2]) {
          const r = await benchCells(o.kernel, jobs, join(dir, 'results'), o.scenario);
          cells.push(r);
          say(`cells --jobs ${jobs}: ${r.cells} cells in ${(r.wallMs / 1000).toFixed(1)} s = ${r.cellsPerMinute.toFixed(1)} cells/min (goal >= 20), mean cell ${(r.meanCellMs / 1000).toFixed(1)} s, ${JSON.stringify(r.verdicts)}`);
        }
        out.cells = cells;
        say(`cells: --jobs 2 / --jobs 1 wall = ${(cells[1]!.wallMs / cells[0]!.wallMs).toFixed(2)} (goal <= 0.6)`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const resultsDir = join(repoRoot(), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${out.at as string}.json`.replace(/:/g, '-'));
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  say(`written ${file}`);
  return 0;
}

main(process.argv.slice(2)).then((c) => process.exit(c), (e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(125);
});
