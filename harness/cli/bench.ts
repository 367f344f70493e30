/**
 * npm run bench [-- --only audit,boot,cells] [--kernel 6.1] [--runs 3] [--jobs 1,2] [--share-guest 1,8] [--build]
 *
 * --build (or --only build) adds kernel build times: a clean src:6.1 build and the rebuild after a one-file
 * patch (fast path and full make). It takes minutes, so it is not in the default set. --build-incremental
 * times only the rebuilds, seeded from this cache's finished base build (under a minute). --build-ccache adds two
 * clean builds with ccache on: into an empty ccache of the bench's own (a fresh machine's first build), then
 * into another fresh build dir from that ccache (a new build dir once ccache has seen the sources).
 *
 * --only coverage: the default library on a kernel built here (--coverage-kernel, default src:6.1) at --jobs 2,
 * without and with --coverage, and the ratio of the wall times (both kernels are built first, untimed).
 *
 * Speed targets are measured here, never in timed unit tests. Prints a table and writes
 * results/bench-<time>.json. Run it on a quiet machine: most numbers are wall time (builds also report CPU time).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { AUDIT_BENCH_KINDS, benchAudit, formatAuditBench } from '../bench/audit.ts';
import { benchBoot } from '../bench/boot.ts';
import { benchBuild } from '../bench/build.ts';
import { benchCells, type CellsBench } from '../bench/cells.ts';
import { benchCoverage } from '../bench/coverage.ts';
import { DEFAULT_SHARE_GUEST } from '../config.ts';
import { prepareGuestKernel } from '../test/guest-fixture.ts';

const SECTIONS = ['audit', 'boot', 'cells', 'build', 'coverage'] as const;
const DEFAULT_SECTIONS = ['audit', 'boot', 'cells'];

async function main(argv: string[]): Promise<number> {
  const o = new Command('bench')
    .option('--only <sections>', `comma-separated: ${SECTIONS.join(',')}`, DEFAULT_SECTIONS.join(','))
    .option('--build', 'also time kernel builds (clean and after a one-file patch; minutes)', false)
    .option('--build-incremental', 'time only the rebuilds after a one-file patch, from the cached base build', false)
    .option('--build-ccache', 'also time clean builds with ccache on: from an empty ccache, then from a warm one', false)
    .option('--kernel <spec>', 'kernel for boot and cells', '6.1')
    .option('--runs <n>', 'repetitions for audit and boot (best / median is reported)', '3')
    .option('--scenario <glob>', 'limit the cells section to these scenarios')
    .option('--jobs <list>', 'cells section: --jobs values to compare', '1,2')
    .option('--coverage-kernel <spec>', 'coverage section: the kernel built without and with --coverage', 'src:6.1')
    .option('--share-guest <list>', 'cells section: --share-guest values to compare (1: a guest per cell)', `1,${DEFAULT_SHARE_GUEST}`)
    .parse(argv, { from: 'user' })
    .opts<{ only: string; kernel: string; runs: string; scenario?: string; jobs: string; shareGuest: string; coverageKernel: string; build: boolean; buildIncremental: boolean; buildCcache: boolean }>();
  const only = o.only.split(',').map((s) => s.trim());
  if ((o.build || o.buildIncremental || o.buildCcache) && !only.includes('build')) only.push('build');
  const bad = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (bad.length > 0) {
    process.stderr.write(`bench: --only ${bad.join(',')}: expected some of ${SECTIONS.join(',')}\n`);
    return 255;
  }
  const runs = Number(o.runs);
  const dir = mkdtempSync(join(tmpdir(), 'ih-bench-'));
  // The machine may be shared: the load average says how far to trust the wall times.
  const out: Record<string, unknown> = { at: new Date().toISOString(), kernel: o.kernel, loadavgAtStart: loadavg() };
  const say = (s: string) => process.stdout.write(`${s}\n`);
  try {
    if (only.includes('audit')) {
      for (const kind of AUDIT_BENCH_KINDS) {
        const r = benchAudit(dir, kind, 256, runs);
        (out.audit ??= []) as unknown[];
        (out.audit as unknown[]).push(r);
        say(`${formatAuditBench(r)} (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
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
        const cells: CellsBench[] = [];
        const ints = (t: string) => t.split(',').map((x) => Number(x.trim())).filter((n) => Number.isInteger(n) && n > 0);
        for (const share of ints(o.shareGuest)) {
          for (const jobs of ints(o.jobs)) {
            const r = await benchCells(o.kernel, jobs, share, join(dir, 'results'), o.scenario);
            cells.push(r);
            say(`cells --jobs ${jobs} --share-guest ${share}: ${r.cells} cells in ${(r.wallMs / 1000).toFixed(1)} s = ${r.cellsPerMinute.toFixed(1)} cells/min (goal >= 20), ${r.boots} boots, mean cell ${(r.meanCellMs / 1000).toFixed(1)} s, ${JSON.stringify(r.verdicts)}${r.slowNotRun.length ? `, ${r.slowNotRun.length} slow scenarios not run` : ''} (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
          }
        }
        out.cells = cells;
        const at = (jobs: number, share: number) => cells.find((c) => c.jobs === jobs && c.shareGuest === share);
        for (const share of new Set(cells.map((c) => c.shareGuest))) {
          const [j1, j2] = [at(1, share), at(2, share)];
          if (j1 && j2) say(`cells --share-guest ${share}: --jobs 2 / --jobs 1 wall = ${(j2.wallMs / j1.wallMs).toFixed(2)} (goal <= 0.6)`);
        }
        for (const jobs of new Set(cells.map((c) => c.jobs))) {
          const alone = at(jobs, 1);
          for (const c of cells.filter((x) => x.jobs === jobs && x.shareGuest > 1 && alone)) {
            say(`cells --jobs ${jobs}: --share-guest ${c.shareGuest} / --share-guest 1 wall = ${(c.wallMs / alone!.wallMs).toFixed(2)}`);
          }
        }
      }
    }
    if (only.includes('coverage')) {
      const r = await benchCoverage(o.coverageKernel, join(dir, 'results'), o.scenario);
      out.coverage = r;
      const s = (ms: number) => (ms / 1000).toFixed(1);
      say(`coverage ${o.coverageKernel} --jobs 2: ${r.without.cells} cells ${s(r.without.wallMs)} s without --coverage, ${s(r.with.wallMs)} s with (ratio ${r.ratio.toFixed(2)}; ${JSON.stringify(r.with.verdicts)}) (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    }
    if (only.includes('build')) {
      const r = await benchBuild(cacheDir(), dir, say, '6.1', { incrementalOnly: o.buildIncremental && !o.build, ccache: o.buildCcache });
      out.build = r;
      const s = (ms: number) => (ms / 1000).toFixed(1);
      const f = (x: { wallMs: number; cpuMs: number; makeTarget: string; makeMs: number; makeCpuMs: number }) =>
        `${s(x.wallMs)} s wall / ${s(x.cpuMs)} s cpu (make ${x.makeTarget} ${s(x.makeMs)} s wall / ${s(x.makeCpuMs)} s cpu)`;
      if (r.clean) say(`build src:${r.version} -j${r.jobs}: clean, ccache off ${f(r.clean)} (load ${r.loadBefore.clean?.toFixed(1)})`);
      for (const [what, x] of [['empty', r.cleanColdCcache], ['warm', r.cleanWarmCcache]] as const) {
        if (x) say(`build src:${r.version} -j${r.jobs}: clean, ccache ${what} ${f(x)} (load ${x.loadBefore.toFixed(1)}; ${x.ccacheHits} hits, ${x.ccacheMisses} misses)`);
      }
      say(`build src:${r.version} -j${r.jobs}: after a one-file patch ${f(r.incremental)} (load ${r.loadBefore.incremental.toFixed(1)}; ${r.incremental.path})`);
      say(`build src:${r.version} -j${r.jobs}: same, full make ${f(r.incrementalFullMake)} (load ${r.loadBefore.incrementalFullMake.toFixed(1)})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  out.loadavgAtEnd = loadavg();
  say(`load average at start ${(out.loadavgAtStart as number[]).map((l) => l.toFixed(1)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const resultsDir = join(repoRoot(), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${out.at as string}.json`.replace(/:/g, '-'));
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  say(`written ${file}`);
  return 0;
}

main(process.argv.slice(2)).then((c) => process.exit(c), (e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message ?? String(e)}\n`);
  process.exit(125);
});
