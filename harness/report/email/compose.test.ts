import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeEmail } from './compose.ts';
import { loadReportInput } from '../input.ts';
import { copyPassRun, DISAGREEMENTS, FIRST_BAD, OOPS_FRAMES, writeBisect, writeFailingRun, writeGateRun } from '../fixtures/runs.ts';
import { WIDTH, fold, wrap } from './wrap.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'ih-email-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const email = async (dir: string) => composeEmail(await loadReportInput(dir));

function expectMailShape(text: string): void {
  const lines = text.split('\n');
  const long = lines.filter((l) => l.length > WIDTH);
  expect(long, `lines over ${WIDTH} columns`).toEqual([]);
  expect(lines[0]).toMatch(/^Subject: \[integrity-harness\] /);
  expect(text).toMatch(/^[\x20-\x7e\n]*$/); // plain ASCII, no tabs, no escape sequences
}

describe('the mail of a failing run', () => {
  let text: string;
  let runDir: string;
  beforeAll(async () => {
    const r = await writeFailingRun(join(root, 'fail'), { repro: true });
    runDir = r.dir;
    text = await email(r.dir);
  });

  it('keeps every line within 80 columns, in ASCII', () => expectMailShape(text));

  it("names the crash in the subject, syzbot's way (oops in function)", () => {
    const subject = text.split('\n\n')[0]!.replace(/\n /g, ' ');
    expect(subject).toBe('Subject: [integrity-harness] BUG: kernel NULL pointer dereference in bio_integrity_process (and 2 more)');
  });

  it('says which kernel and which patch were under test, and where its config and build log are', () => {
    expect(text).toMatch(/spec: +src:6\.1 --patch \S*seed\.patch/);
    expect(text).toContain('kernels/6.1.158+seed.patches/0001-seed.patch');
    expect(text).toContain('kernels/6.1.158+seed.config');
    expect(text).toContain('kernels/6.1.158+seed.build.log');
  });

  it('shows the oops without timestamps, register dump, code bytes or unreliable frames, and keeps the call trace', () => {
    const oops = text.slice(text.indexOf('The guest kernel crashed'), text.indexOf('---[ end trace'));
    for (const f of OOPS_FRAMES) expect(oops).toContain(`   ${f}`);
    expect(oops).toContain('BUG: kernel NULL pointer dereference, address: 0000000000000000');
    expect(oops).toContain('Workqueue: kintegrityd bio_integrity_verify_fn');
    expect(oops).not.toMatch(/\[\s*\d+\.\d+\]/);
    expect(oops).not.toMatch(/RAX:|RSP:|R13:|Code:|CR2:|__die/);
    expect(oops).not.toContain('\r');
  });

  it("puts the model's first disagreement in words: step, block, expected and seen", () => {
    const d = DISAGREEMENTS[0]!;
    expect(text).toContain(`step ${d.step} (read), block ${d.block}, sector ${d.sector}:`);
    expect(text).toContain(`expected: ${d.expected}`);
    expect(text).toContain(`seen:     ${d.found}`);
    expect(text).toContain('command:  ih-io read --dev /dev/mapper/ih-int');
    expect(text).toContain('1 more disagreement(s) in disagreements.json');
  });

  it('points at the reproducer when the cell has one, else at the matrix command that reruns the cell', () => {
    expect(text).toContain('sh cells/6.1.158+seed__crypt_001-gcm-read-after-write/repro/repro.sh');
    const start = text.indexOf('integrity/001-crc32c-journal-corrupt on 6.1.158+seed:\n  With');
    expect(start).toBeGreaterThan(0);
    const rerun = text.slice(start, text.indexOf('\n\n', start)).split('\n').slice(2).join(' ').replace(/\s+/g, ' ').trim();
    expect(rerun).toBe(`npm run matrix -- --kernel src:6.1 --patch ${join(runDir, '..', 'seed.patch')} --scenario integrity/001-crc32c-journal-corrupt`);
  });

  it('lists the infrastructure error as not judged, and leaves the trailers to fill', () => {
    expect(text).toContain('Not judged (1; the harness or host failed, not the kernel):');
    expect(text).toMatch(/^Reported-by: <name> <email>$/m);
    expect(text).toMatch(/^Closes: <link to this report>$/m);
    expect(text).toMatch(/^Fixes: <12\+ hex digits/m);
  });
});

describe('the mail of a gate run', () => {
  it('shows base and candidate and only the regressions, the compatibility one with its gate command', async () => {
    const r = await writeGateRun(join(root, 'gate'));
    const text = await email(r.dir);
    expectMailShape(text);
    expect(text).toContain('Base kernel:');
    expect(text).toContain('Candidate kernel (under test):');
    expect(text).toContain(`Gate: ${r.summary.gate!.regressions} regression(s)`);
    expect(text).toContain('crypt/001-gcm-read-after-write on 6.1.158+seed: crash (base: pass)');
    expect(text).toContain('compat/crypt-gcm-random on base->candidate: crash');
    expect(text).not.toContain('compat/crypt-gcm-random on candidate->base');
    expect(text.replace(/\n\s+/g, ' ')).toMatch(/npm run gate -- --base src:6\.1 --candidate src:6\.1 --patch \S+seed\.patch --compat-stack compat\/crypt-gcm-random/);
  });
});

describe('the mail of a bisection', () => {
  it('gives the first bad commit, fills Fixes: with it and reruns the cell on that commit', async () => {
    const b = await writeBisect(join(root, 'bisect'));
    const text = await email(b.dir);
    expectMailShape(text);
    expect(text).toContain(`commit ${FIRST_BAD.commit}`);
    expect(text).toContain(`Fixes: ${FIRST_BAD.commit.slice(0, 12)} ("${FIRST_BAD.subject}")`);
    expect(text).toContain(`--kernel tree:/src/linux@${FIRST_BAD.commit.slice(0, 12)}`);
    expect(text).toContain('Commits tested: 3 (1 good, 2 bad, 0 skip)');
  });
});

describe('the mail of a passing run', () => {
  it('says nothing failed and has no trailers to fill', async () => {
    const dir = await copyPassRun(root);
    const text = await email(dir);
    expectMailShape(text);
    expect(text).toContain('Nothing failed');
    expect(text).toContain('30 pass (30 cells), exit code 0');
    expect(text).not.toContain('Reported-by:');
  });
});

describe('wrap and fold', () => {
  it('never leave a line over the width, whatever the words', () => {
    const words = ['a', 'bb', 'x'.repeat(95), 'ccc', 'd'.repeat(79), 'e'.repeat(80), 'f'.repeat(81)];
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 30 }, (_, j) => words[(i * 7 + j * 13) % words.length]).join(' ');
      for (const l of [...wrap(text, 40, '  '), ...fold(text, 40, '    ')]) expect(l.length).toBeLessThanOrEqual(40);
      expect(wrap(text, 40).join(' ').replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
      expect(fold(text, 40).join('').replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
    }
  });
});
