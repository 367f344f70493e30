/**
 * The reproducer's checks (files/check.awk through lib.sh's ih_check) on ih-io reports and out.bin files
 * made here: the first disagreement is named as the harness names it, agreement is silent, and a report
 * that lacks an I/O is the environment's fault (125), not the kernel's.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ih-repro-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const here = new URL('.', import.meta.url).pathname;
copyFileSync(join(here, 'files', 'lib.sh'), join(dir, 'lib.sh'));
copyFileSync(join(here, 'files', 'check.awk'), join(dir, 'check.awk'));

const io = (op: string, off: number, len: number, errno: number) =>
  `{"op":"${op}","off":${off},"len":${len},"ok":${errno === 0},"errno":${errno}${errno ? ',"error":"EILSEQ"' : ''},"us":5}`;

/**
 * The guest's userland is busybox (sh, awk, cmp, dd, od): a PATH of busybox applets only, when the host
 * has busybox (the harness's guest image needs it: apt-get install busybox-static); the host's own otherwise.
 */
const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const applet of ['sh', 'awk', 'cmp', 'dd', 'od', 'head', 'grep', 'tr', 'sed', 'printf', 'tail', 'wc', 'cat', 'rm', 'sleep']) {
  if (BUSYBOX) symlinkSync(BUSYBOX, join(bin, applet));
}
const shell = BUSYBOX ? { cmd: join(bin, 'sh'), PATH: bin } : { cmd: 'sh', PATH: process.env.PATH ?? '' };

/** Runs ih_check on an expectation and a report; out.bin holds `out` (the read's landing file). */
async function check(expectation: string, report: string[], out?: Buffer, payload?: Buffer) {
  writeFileSync(join(dir, 'expect.txt'), expectation);
  writeFileSync(join(dir, 'last.out'), report.join('\n') + '\n');
  writeFileSync(join(dir, 'last.err'), '');
  if (out) writeFileSync(join(dir, 'out.bin'), out);
  if (payload) writeFileSync(join(dir, 'payload.bin'), payload);
  return execa(shell.cmd, ['-c', '. "$R/lib.sh"; IH_STEP="5 read"; IH_RC=1; ih_check expect.txt; echo AGREES'], {
    env: { R: dir, W: dir, PATH: shell.PATH }, extendEnv: false, reject: false,
  });
}

const payload = Buffer.alloc(8 * 512);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;

describe('ih_check on reads', () => {
  const exp = ['read 0 4096 2048 512', 'fail 0 84', 'block 1 84', 'data 0 1 0', 'data 2 2 1024', 'data 4 4 zero', ''].join('\n');
  const out = Buffer.concat([payload.subarray(0, 512), Buffer.alloc(512), payload.subarray(1024, 2048), Buffer.alloc(2048)]);

  it('agrees when the failing I/O and block fail with EILSEQ and the other blocks hold their bytes', async () => {
    const r = await check(exp, [io('read', 0, 2048, 84), io('block', 512, 512, 84), io('read', 2048, 2048, 0)], out, payload);
    expect(r.stdout.trim()).toBe('AGREES');
    expect(r.exitCode).toBe(0);
  });

  it('names a silent acceptance with the block the model expected to fail', async () => {
    const r = await check(exp, [io('read', 0, 2048, 0), io('read', 2048, 2048, 0)], out, payload);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.trim()).toBe('REPRODUCED: step 5 read: silent-acceptance block 1 (sector 1): expected errno 84, found read succeeded');
  });

  it('names a false alarm and a wrong errno', async () => {
    const alarm = await check(exp, [io('read', 0, 2048, 84), io('block', 512, 512, 84), io('read', 2048, 2048, 84), io('block', 2560, 512, 84)], out, payload);
    expect(alarm.stdout.trim()).toBe('REPRODUCED: step 5 read: false-alarm block 4 (sector 4): expected 2048 bytes read, found errno 84');
    const wrong = await check(exp, [io('read', 0, 2048, 5), io('block', 512, 512, 5), io('read', 2048, 2048, 0)], out, payload);
    expect(wrong.stdout.trim()).toBe('REPRODUCED: step 5 read: wrong-errno block 0 (sector 0): expected errno 84, found errno 5');
  });

  it('names the first byte of a block that came back different', async () => {
    const bad = Buffer.from(out);
    bad[1024 + 512 + 17]! ^= 0x5a;
    const r = await check(exp, [io('read', 0, 2048, 84), io('block', 512, 512, 84), io('read', 2048, 2048, 0)], bad, payload);
    const want = payload[1024 + 512 + 17]!;
    expect(r.stdout.trim()).toBe(`REPRODUCED: step 5 read: data-mismatch block 3 (sector 3): expected byte 17 = 0x${want.toString(16).padStart(2, '0')}, found 0x${(want ^ 0x5a).toString(16).padStart(2, '0')}`);
  });

  it('calls a report without the I/O the environment\'s fault (125)', async () => {
    const r = await check(exp, [io('read', 0, 2048, 84), io('block', 512, 512, 84)], out, payload);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/cannot run here: step 5 read: the command reported nothing for offset 2048/);
  });
});

describe('ih_check on writes, discards and the mismatch counter', () => {
  it('a write the model expects to succeed that failed, and one it expects to fail that succeeded', async () => {
    const failed = await check('write 0 4096 2048 0\n', [io('write', 2048, 2048, 5)]);
    expect(failed.stdout.trim()).toBe('REPRODUCED: step 5 read: write-failed: expected write succeeds, found errno 5 at offset 2048');
    const accepted = await check('write 0 4096 2048 22\n', [io('write', 0, 2048, 22)]);
    expect(accepted.stdout.trim()).toBe('REPRODUCED: step 5 read: write-accepted: expected all 2 write(s) fail with errno 22, found 1 succeeded');
    expect((await check('write 0 4096 2048 0\n', ['{"op":"summary"}'])).stdout.trim()).toBe('AGREES');
  });

  it('a discard with the wrong errno', async () => {
    const r = await check('discard 95\n', ['{"op":"discard","off":0,"len":4096,"ok":true,"errno":0,"us":1}']);
    expect(r.stdout.trim()).toBe('REPRODUCED: step 5 read: discard: expected errno 95, found discard succeeded');
  });

  it('the mismatch counter outside the model\'s range', async () => {
    expect((await check('status ih-int 4 12\n', ['0 131072 integrity 8 129160 -'])).stdout.trim()).toBe('AGREES');
    const r = await check('status ih-int 4 12\n', ['0 131072 integrity 0 129160 -']);
    expect(r.stdout.trim()).toBe('REPRODUCED: step 5 read: mismatch-counter: expected 4..12, found 0');
  });
});

/** lib.sh functions in the busybox shell, with W and R in the test directory and `dmesg` a stand-in. */
function lib(script: string, dmesg = '') {
  writeFileSync(join(dir, 'fake-dmesg'), dmesg);
  // a function, as busybox's shell would run its own dmesg applet whatever PATH says
  return execa(shell.cmd, ['-c', `. "$R/lib.sh"; dmesg() { cat "$W/fake-dmesg"; }; trap ih_hang USR1; IH_MARK='ih-repro: begin 1'; IH_OOPS='BUG: |Oops: '; IH_TIMEOUT=1; IH_STEP='1 read'; ${script}`], {
    env: { R: dir, W: dir, PATH: shell.PATH }, extendEnv: false, reject: false,
  });
}

describe('ih_run', () => {
  it('a command the model requires to succeed that failed in the run and fails again: reproduced', async () => {
    const r = await lib('ih_run 1 1 -- sh -c "echo no >&2; exit 3"; echo AFTER');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^REPRODUCED: step 1 read: 'sh -c echo no >&2; exit 3' exited 3 \(in the run: 1\); the model requires it to succeed: no$/m);
  });

  it('one that succeeded in the run but fails here: this machine differs (125)', async () => {
    const r = await lib('ih_run 1 0 -- false');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/exited 1 here but 0 in the run/);
  });

  it('one the model does not judge that worked in the run but fails here: 125; one that failed in the run too: goes on', async () => {
    const r = await lib('ih_run e 0 -- false');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/'false' exited 1 here but 0 in the run/);
    expect((await lib('ih_run 0 1 -- false; echo AFTER')).stdout.trim()).toBe('AFTER');
  });

  it('a command the model says must be refused that succeeded: reproduced; refused: goes on', async () => {
    const r = await lib("ih_run 0 0 -- true; ih_refused 'Invalid magic'");
    expect(r.exitCode).toBe(1);
    expect(r.stdout.trim()).toBe("REPRODUCED: step 1 read: open-accepted: expected refused (Invalid magic), found 'true' succeeded");
    expect((await lib("ih_run 0 1 -- false; ih_refused x; echo AFTER")).stdout.trim()).toBe('AFTER');
  });

  it('one still running after IH_TIMEOUT: a hang', async () => {
    const started = Date.now();
    const r = await lib('ih_run 0 - -- sleep 30; echo AFTER');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^REPRODUCED: step 1 read: hang: 'sleep 30' did not finish within 1s/m);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an oops in the kernel log after the mark, and not one before it', async () => {
    const before = '[ 1.0] BUG: an old one\n[ 2.0] ih-repro: begin 1\n[ 3.0] all well\n';
    expect((await lib('ih_run 0 0 -- true; echo AFTER', before)).stdout.trim()).toBe('AFTER');
    const r = await lib('ih_run 0 0 -- true; echo AFTER', `${before}[ 4.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n`);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^REPRODUCED: step 1 read: the kernel logged 'BUG: kernel NULL pointer dereference, address: 0000000000000000' during 'true'/m);
  });
});

describe('the host-side changes', () => {
  it('ih_flip inverts one byte at the raw offset; ih_swap exchanges two ranges', async () => {
    const img = join(dir, 'disk.img');
    const bytes = Buffer.from([...Array(64).keys()]);
    writeFileSync(img, bytes);
    expect((await lib(`ih_flip "${img}" 5 && ih_swap "${img}" 8 "${img}" 32 4`)).exitCode).toBe(0);
    const want = Buffer.from(bytes);
    want[5] = 5 ^ 0xff;
    bytes.copy(want, 8, 32, 36);
    bytes.copy(want, 32, 8, 12);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(img)).toEqual(want);
  });
});
