/**
 * npm run bench [-- --only audit,boot,cells] [--kernel 6.1] [--runs 3] [--build]
 *
 * --build (or --only build) adds kernel build times: a clean src:6.1 build and the rebuild after a one-file
 * patch. It takes minutes, so it is not in the default set.
 *
 * Speed targets are measured here, never in timed unit tests. Prints a table and writes
 * results/bench-<time>.json. Run it on a quiet machine: every number is wall time.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { benchAudit } from '../bench/audit.ts';
import { benchBoot } from '../bench/boot.ts';
import { benchBuild } from '../bench/build.ts';
import { benchCells } from '../bench/cells.ts';
import { prepareGuestKernel } from '../test/guest-fixture.ts';

const SECTIONS = ['audit', 'boot', 'cells', 'build'] as const;
const DEFAULT_SECTIONS = ['audit', 'boot', 'cells'];

async function main(argv: string[]): Promise<number> {
  const o = new Command('bench')
    .option('--only <sections>', `comma-separated: ${SECTIONS.join(',')}`, DEFAULT_SECTIONS.join(','))
    .option('--build', 'also time kernel builds (clean and after a one-file patch; minutes)', false)
    .option('--kernel <spec>', 'kernel for boot and cells', '6.1')
    .option('--runs <n>', 'repetitions for audit and boot (best / median is reported)', '3')
    .option('--scenario <glob>', 'limit the cells section to these scenarios')
    .parse(argv, { from: 'user' })
    .opts<{ only: string; kernel: string; runs: string; scenario?: string; build: boolean }>();
  const only = o.only.split(',').map((s) => s.trim());
  if (o.build && !only.includes('build')) only.push('build');
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
      for (const hash of ['crc32c', 'sha256'] as const) {
        const r = benchAudit(dir, hash, 256, runs);
        (out.audit ??= []) as unknown[];
        (out.audit as unknown[]).push(r);
        say(`audit ${hash.padEnd(7)} ${r.imageMiB} MiB: raw read ${r.rawMBps.toFixed(0)} MB/s, audit ${r.auditMBps.toFixed(0)} MB/s, ratio ${r.ratio.toFixed(2)} (goal >= 0.5)${r.disagreements !== 0 ? ` DISAGREEMENTS ${r.disagreements}` : ''}`);
        rmSync(join(dir, `audit-${hash}.img`), { force: true });
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
    if (only.includes('build')) {
      const r = await benchBuild(cacheDir(), dir, say);
      out.build = r;
      const f = (x: { wallMs: number; makeMs: number }) => `${(x.wallMs / 1000).toFixed(0)} s (make bzImage ${(x.makeMs / 1000).toFixed(0)} s)`;
      say(`build src:${r.version} -j${r.jobs}: clean, ccache off ${f(r.clean)} (load ${r.loadBefore.clean.toFixed(1)}); after a one-file patch ${f(r.incremental)} (load ${r.loadBefore.incremental.toFixed(1)})`);
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
