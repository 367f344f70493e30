/**
 * A run as KCIDB I/O data (schema v5.3): per kernel of the run a checkout (the source and the patches
 * applied) and a build (its .config and build log), per cell a test on the build of the kernel it ran on.
 * Ids are "<origin>:<run id>/<kernel label>" (checkouts, builds) and "<origin>:<run id>/<cell id>" (tests),
 * unique per origin because run ids are. Every *_url is a file of the run (urls.ts).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { CellRecord, KernelRecord, Summary } from '../../results.ts';
import { cellFinding } from '../cell-finding.ts';
import { gitCommitOf, splitKernelSpec } from '../kernel-inputs.ts';
import { BUILD_STATUS, TEST_STATUS, type KcidbStatus } from './status.ts';
import { runFileUrl, type UrlBase } from './urls.ts';
import { KCIDB_SCHEMA_VERSION, KCIDB_TEST_ROOT } from './version.ts';

export interface KcidbResource { name: string; url: string }

export interface KcidbCheckout {
  id: string; origin: string; comment?: string; git_commit_hash?: string; git_commit_name?: string;
  patchset_files?: KcidbResource[]; patchset_hash?: string; start_time?: string; valid?: boolean;
  origin_builds_finish_time?: string; origin_tests_finish_time?: string; misc?: Record<string, unknown>;
}

export interface KcidbBuild {
  id: string; checkout_id: string; origin: string; comment?: string; architecture?: string; config_name?: string;
  config_url?: string; log_url?: string; log_excerpt?: string; status?: KcidbStatus; misc?: Record<string, unknown>;
}

export interface KcidbTest {
  id: string; build_id: string; origin: string; path?: string; comment?: string; status?: KcidbStatus;
  duration?: number; log_url?: string; log_excerpt?: string; output_files?: KcidbResource[];
  environment?: { comment?: string; misc?: Record<string, unknown> }; misc?: Record<string, unknown>;
}

export interface KcidbData {
  version: { major: number; minor: number };
  checkouts: KcidbCheckout[];
  builds: KcidbBuild[];
  tests: KcidbTest[];
}

export interface KcidbOptions {
  origin: string;
  urlBase: UrlBase;
}

/** KCIDB's log_excerpt limit (maxLength 16384); text fields may not hold NUL. */
const MAX_EXCERPT = 16384;

function text(s: string, max = Infinity): string {
  const t = s.replaceAll('\0', '');
  return t.length <= max ? t : `${t.slice(0, max - 4)}\n...`;
}

function kernelLabel(k: KernelRecord): string {
  return k.label ?? k.spec;
}

/** Dot-separated test path: each part only [a-zA-Z0-9_-] (the schema's pattern). */
export function testPath(scenario: string): string {
  return [KCIDB_TEST_ROOT, ...scenario.split('/').map((p) => p.replace(/[^A-Za-z0-9_-]+/g, '_'))].join('.');
}

async function patchsetHash(runDir: string, patches: string[]): Promise<string | undefined> {
  const hashes: string[] = [];
  for (const p of patches) {
    const body = await readFile(join(runDir, p)).catch(() => undefined);
    if (body === undefined) return undefined;
    hashes.push(`${createHash('sha256').update(body).digest('hex')}\n`);
  }
  return createHash('sha256').update(hashes.join('')).digest('hex');
}

async function checkout(summary: Summary, runDir: string, k: KernelRecord, o: KcidbOptions): Promise<KcidbCheckout> {
  const wanted = splitKernelSpec(k.spec).patches;
  const kept = k.patches ?? [];
  // the hash covers the patchset only when every patch the spec names was kept in the run
  const hash = wanted.length === 0 ? '' : kept.length === wanted.length ? await patchsetHash(runDir, kept) : undefined;
  const commit = gitCommitOf(k);
  const ref = /@([^\s]+)/.exec(splitKernelSpec(k.spec).base)?.[1];
  return {
    id: `${o.origin}:${summary.runId}/${kernelLabel(k)}`,
    origin: o.origin,
    comment: text(k.source ?? k.spec),
    ...(commit !== undefined ? { git_commit_hash: commit } : {}),
    ...(commit !== undefined && ref !== undefined ? { git_commit_name: ref } : {}),
    ...(kept.length > 0 ? { patchset_files: kept.map((p) => ({ name: basename(p), url: runFileUrl(o.urlBase, p) })) } : {}),
    ...(hash !== undefined ? { patchset_hash: hash } : {}),
    start_time: summary.startedAt,
    ...(k.status === 'ok' ? { valid: true } : {}),
    ...(summary.status === 'complete' && summary.endedAt !== undefined ? { origin_builds_finish_time: summary.endedAt, origin_tests_finish_time: summary.endedAt } : {}),
    misc: { spec: k.spec, ...(k.version !== undefined ? { version: k.version } : {}) },
  };
}

function configName(k: KernelRecord): string | undefined {
  const s = splitKernelSpec(k.spec);
  if (s.kconfig.length > 0) return ['tinyconfig', 'base', ...s.kconfig.map((c) => basename(c).replace(/\.[^.]+$/, ''))].join('+');
  if (k.buildLog !== undefined) return 'tinyconfig+base';
  if (k.source?.startsWith('debian:')) return 'debian';
  return undefined;
}

function build(summary: Summary, k: KernelRecord, o: KcidbOptions): KcidbBuild {
  const id = `${o.origin}:${summary.runId}/${kernelLabel(k)}`;
  const cfg = configName(k);
  return {
    id, checkout_id: id, origin: o.origin,
    comment: text(k.release ?? kernelLabel(k)),
    architecture: 'x86_64',
    ...(cfg !== undefined ? { config_name: cfg } : {}),
    ...(k.config !== undefined ? { config_url: runFileUrl(o.urlBase, k.config) } : {}),
    ...(k.buildLog !== undefined ? { log_url: runFileUrl(o.urlBase, k.buildLog) } : {}),
    ...(k.status !== 'ok' && k.message !== undefined ? { log_excerpt: text(k.message, MAX_EXCERPT) } : {}),
    status: BUILD_STATUS[k.status],
    misc: {
      status: k.status,
      ...(k.release !== undefined ? { release: k.release } : {}),
      ...(k.missingOptions !== undefined && k.missingOptions.length > 0 ? { missing_options: k.missingOptions } : {}),
    },
  };
}

async function test(summary: Summary, runDir: string, cell: CellRecord, buildId: string, o: KcidbOptions): Promise<KcidbTest> {
  const finding = cell.verdict === 'pass' ? undefined : await cellFinding(runDir, cell);
  const file = (name: string) => (cell.dir === '' ? undefined : { name, url: runFileUrl(o.urlBase, `${cell.dir}/${name}`) });
  const outputs = ['steps.jsonl', 'result.json', ...(cell.verdict === 'fail' ? ['disagreements.json'] : [])].map(file).filter((f) => f !== undefined);
  return {
    id: `${o.origin}:${summary.runId}/${cell.id}`,
    build_id: buildId,
    origin: o.origin,
    path: testPath(cell.scenario),
    comment: text(`${cell.scenario} on ${cell.kernel}: ${cell.verdict}`),
    status: TEST_STATUS[cell.verdict],
    duration: cell.durationMs / 1000,
    ...(cell.dir !== '' ? { log_url: runFileUrl(o.urlBase, `${cell.dir}/console.log`) } : {}),
    ...(finding !== undefined ? { log_excerpt: text(finding.lines.join('\n'), MAX_EXCERPT) } : {}),
    ...(outputs.length > 0 ? { output_files: outputs } : {}),
    environment: {
      comment: text(`QEMU x86_64 guest (${summary.accelerator?.accel ?? 'accelerator unknown'}) on ${summary.host.hostname}`),
      misc: { host_cpus: summary.host.cpus, host_memory_bytes: summary.host.memoryBytes, ...(summary.accelerator !== undefined ? { accelerator: summary.accelerator } : {}) },
    },
    misc: {
      verdict: cell.verdict,
      reason: text(cell.reason),
      scenario: cell.scenario,
      kernel_spec: cell.kernelSpec,
      run_id: summary.runId,
      ...(cell.signature !== undefined ? { signature: cell.signature } : {}),
      ...(cell.flaky === true ? { flaky: true } : {}),
      ...(cell.runs !== undefined ? { runs: cell.runs.map((r) => ({ repeat: r.repeat, attempt: r.attempt, verdict: r.verdict })) } : {}),
      ...(cell.baseline !== undefined ? { baseline: cell.baseline } : {}),
      ...(cell.gate !== undefined ? { gate: cell.gate } : {}),
    },
  };
}

/** The whole run as one KCIDB I/O document. */
export async function runToKcidb(summary: Summary, runDir: string, o: KcidbOptions): Promise<KcidbData> {
  const checkouts: KcidbCheckout[] = [];
  const builds: KcidbBuild[] = [];
  const buildOf = new Map<string, string>();
  for (const k of summary.kernels) {
    if (buildOf.has(k.spec)) continue;
    const c = await checkout(summary, runDir, k, o);
    const b = build(summary, k, o);
    checkouts.push(c);
    builds.push(b);
    buildOf.set(k.spec, b.id);
  }
  const tests: KcidbTest[] = [];
  for (const cell of summary.cells) {
    const buildId = buildOf.get(cell.kernelSpec);
    // a cell always runs on a kernel of the run; a summary without it is not ours to invent a build for
    if (buildId === undefined) throw new Error(`summary.json: cell ${cell.id} names kernel ${cell.kernelSpec}, which kernels[] does not list`);
    tests.push(await test(summary, runDir, cell, buildId, o));
  }
  return { version: { ...KCIDB_SCHEMA_VERSION }, checkouts, builds, tests };
}
