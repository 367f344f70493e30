/**
 * Test fixture: a run directory as the matrix writes it, with one cell of every verdict (and a flaky one),
 * written through RunResults so its summary.json is the real format. The consoles and step logs are made up;
 * reports built from it are checked against what is written here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunResults, type CellRecord, type KernelRecord } from '../results.ts';
import type { Disagreement } from '../verdict/types.ts';
import type { StepRecord } from '../run/session/observations.ts';

export const OOPS_LINE = 'BUG: kernel NULL pointer dereference, address: 0000000000000008';

export const CRASH_CONSOLE = [
  '[    1.000000] Linux version 4.13.0 (fake)',
  ...Array.from({ length: 8 }, (_, i) => `[    ${i + 2}.000000] boot message ${i + 1}`),
  '[    9.100000] ih: step 0 write',
  '[    9.200000] ih: step 1 read',
  `[    9.300000] ${OOPS_LINE}`,
  '[    9.300001] #PF: supervisor read access in kernel mode',
  '[    9.300002] Oops: 0000 [#1] SMP PTI',
  '[    9.300003] Workqueue: kintegrityd bio_integrity_verify_fn',
  '[    9.300004] RIP: 0010:__bio_integrity_endio+0x1a/0x80',
  '[    9.300005] Call Trace: <escape \x1b[0m & "quotes">',
].join('\n');

export const DISAGREEMENTS: Disagreement[] = [
  { step: 5, kind: 'silent-acceptance', block: 700, sector: 700, expected: 'EILSEQ', found: 'read succeeded' },
  { step: 6, kind: 'data-mismatch', block: 3, sector: 3, expected: 'pattern block 3', found: '<zeros>' },
];

const STEPS: StepRecord[] = [
  { index: -1, kind: 'setup', durationMs: 2100, commands: [{ argv: ['integritysetup', 'format', '--batch-mode', '/dev/vda'], exitCode: 0, durationMs: 1900 }] },
  { index: 0, kind: 'write', durationMs: 105, commands: [{ argv: ['ih-io', 'copy', '--src', '/dev/vdb'], exitCode: 0, durationMs: 105 }] },
  { index: 1, kind: 'read', durationMs: 227, commands: [{ argv: ['ih-io', 'read', '--dev', '/dev/mapper/ih-int'], exitCode: 1, durationMs: 227, stderrTail: 'read: Invalid or incomplete multibyte or wide character' }] },
];

export const KERNELS: KernelRecord[] = [
  { spec: '6.1', label: '6.1.0-56-amd64', status: 'ok', source: 'debian:linux-image-6.1.0-56-amd64-unsigned=6.1.192-2' },
  { spec: '4.13', label: '4.13', status: 'unavailable', message: '--kernel 4.13: comes from the kernel.org tarball; pass --kernel tree:/path or a bzImage' },
];

async function cellFiles(dir: string, opts: { console: string; disagreements?: Disagreement[]; disks?: boolean }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'console.log'), opts.console);
  await writeFile(join(dir, 'steps.jsonl'), STEPS.map((s) => JSON.stringify(s)).join('\n') + '\n');
  if (opts.disagreements) await writeFile(join(dir, 'disagreements.json'), JSON.stringify(opts.disagreements));
  if (opts.disks) {
    await mkdir(join(dir, 'disks'), { recursive: true });
    await writeFile(join(dir, 'disks', 'data.img'), Buffer.alloc(4096));
  }
}

function cell(kernel: KernelRecord, scenario: string, rest: Partial<CellRecord> & Pick<CellRecord, 'verdict' | 'reason'>): CellRecord {
  const label = kernel.label ?? kernel.spec;
  return { id: `${label}/${scenario}`, kernel: label, kernelSpec: kernel.spec, scenario, durationMs: 30_000, dir: '', ...rest };
}

/** Writes the fake run under `root` and returns it; `shard` marks it as one shard of a larger plan. */
export async function writeFakeRun(root: string, opts: { runId?: string; only?: string[]; shard?: { index: number; total: number } } = {}): Promise<RunResults> {
  const r = await RunResults.create(root, ['matrix', '--kernel', '6.1', '--kernel', '4.13', '--repeat', '2'], {
    ...(opts.runId ? { runId: opts.runId } : {}),
    plan: { kernels: ['6.1', '4.13'], totalCells: 7, cells: 7, repeat: 2, retries: 0, ...(opts.shard ? { shard: opts.shard } : {}) },
  });
  r.summary.kernels = KERNELS;
  r.summary.accelerator = { accel: 'tcg', reason: '/dev/kvm missing' };
  const [k61, k413] = KERNELS as [KernelRecord, KernelRecord];
  const d = (sc: string) => `cells/6.1.0-56-amd64__${sc.replace('/', '_')}`;
  const quiet = '[    1.0] Linux version 6.1.0\n[   18.7] reboot: Restarting system\n';
  const cells: Array<[CellRecord, Parameters<typeof cellFiles>[1]?]> = [
    [cell(k61, 'integrity/001-pass', { verdict: 'pass', reason: '10 steps agree with the model', dir: d('integrity/001-pass'), bootMs: 17_000 }), { console: quiet }],
    [cell(k61, 'integrity/002-fail', { verdict: 'fail', reason: '2 disagreement(s) with the model; first: step 5 silent-acceptance block 700', dir: d('integrity/002-fail'), signature: 'integrity/002-fail: silent-acceptance' }), { console: quiet, disagreements: DISAGREEMENTS, disks: true }],
    [cell(k61, 'integrity/003-crash', { verdict: 'crash', reason: OOPS_LINE, dir: d('integrity/003-crash'), signature: 'BUG: kernel NULL pointer dereference @ __bio_integrity_endio' }), { console: CRASH_CONSOLE, disks: true }],
    [cell(k61, 'integrity/004-hang', { verdict: 'hang', reason: "'ih-io read' did not answer within 60s", dir: d('integrity/004-hang') }), { console: quiet }],
    [cell(k61, 'integrity/005-error', { verdict: 'error', reason: 'QEMU exited while the harness was talking to the guest', dir: d('integrity/005-error') }), { console: quiet }],
    [cell(k61, 'integrity/006-flaky', {
      verdict: 'crash', reason: `flaky: 1 pass, 1 crash in 2 repetitions; repetition 2: ${OOPS_LINE}`, flaky: true, dir: `${d('integrity/006-flaky')}/rep2-try1`,
      runs: [
        { repeat: 1, attempt: 1, verdict: 'pass', reason: 'ok', durationMs: 30_000, dir: `${d('integrity/006-flaky')}/rep1-try1` },
        { repeat: 2, attempt: 1, verdict: 'crash', reason: OOPS_LINE, durationMs: 30_000, dir: `${d('integrity/006-flaky')}/rep2-try1` },
      ],
    }), { console: CRASH_CONSOLE }],
    [cell(k413, 'integrity/001-pass', { verdict: 'skip', reason: KERNELS[1]!.message!, durationMs: 0 })],
  ];
  for (const [c, files] of cells) {
    if (opts.only !== undefined && !opts.only.includes(c.scenario)) continue;
    if (files !== undefined) await cellFiles(join(r.dir, c.dir), files);
    if (c.runs !== undefined) await cellFiles(join(r.dir, c.runs[0]!.dir), { console: quiet });
    await r.addCell(c);
  }
  await r.finish('complete', 1);
  return r;
}
