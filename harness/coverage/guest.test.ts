import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectArgv, parseCounterStream, resetArgv, writeCounters } from './guest.ts';

const frame = (path: string, bytes: Buffer) => Buffer.concat([Buffer.from(`F ${bytes.length} ${path}\n`), bytes]);

describe('the guest scripts', () => {
  it('read every .gcda under gcov/ byte for byte (run by busybox sh, as in the guest)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ih-debugfs-'));
    try {
      const bytes = Buffer.from([1, 0x0a, 0, 0x46, 0x20, 0x0a, 255]);
      mkdirSync(join(d, 'gcov/work/b/drivers/md'), { recursive: true });
      writeFileSync(join(d, 'gcov/work/b/drivers/md/dm-integrity.gcda'), bytes);
      writeFileSync(join(d, 'gcov/work/b/drivers/md/dm-crypt.gcda'), '');
      writeFileSync(join(d, 'gcov/work/b/drivers/md/dm-crypt.gcno'), 'not a counter file');
      const [sh, ...args] = collectArgv(d);
      const r = await execa('busybox', [sh!, ...args], { encoding: 'buffer' });
      const files = parseCounterStream(Buffer.from(r.stdout));
      expect([...files.keys()].sort()).toEqual(['/work/b/drivers/md/dm-crypt.gcda', '/work/b/drivers/md/dm-integrity.gcda']);
      expect(files.get('/work/b/drivers/md/dm-integrity.gcda')).toEqual(bytes);
      const [sh2, ...args2] = resetArgv(d);
      await execa('busybox', [sh2!, ...args2]);
      expect(readFileSync(join(d, 'gcov/reset'), 'utf8')).toBe('1\n');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('the guest counter stream', () => {
  it('splits files by their byte counts, newlines and all', () => {
    const a = Buffer.from([0x61, 0x0a, 0x00, 0x46, 0x20, 0x0a]);
    const b = Buffer.alloc(0);
    const files = parseCounterStream(Buffer.concat([frame('/b/drivers/md/dm-integrity.gcda', a), frame('/b/block/bio-integrity.gcda', b)]));
    expect([...files.keys()]).toEqual(['/b/drivers/md/dm-integrity.gcda', '/b/block/bio-integrity.gcda']);
    expect(files.get('/b/drivers/md/dm-integrity.gcda')).toEqual(a);
    expect(files.get('/b/block/bio-integrity.gcda')!.length).toBe(0);
  });

  it('refuses a stream cut short or without its header', () => {
    expect(() => parseCounterStream(frame('/b/x.gcda', Buffer.alloc(8)).subarray(0, 20))).toThrow(/cut short/);
    expect(() => parseCounterStream(Buffer.from('garbage\n'))).toThrow(/bad header at byte 0/);
  });

  it('writes the build dir\'s counters at their relative paths and nothing outside it', async () => {
    const into = mkdtempSync(join(tmpdir(), 'ih-gcda-'));
    try {
      const files = new Map([
        ['/cache/src/ih-out-1/drivers/md/dm-crypt.gcda', Buffer.from('x')],
        ['/elsewhere/y.gcda', Buffer.from('y')],
        ['/cache/src/ih-out-1/../../escape.gcda', Buffer.from('z')],
      ]);
      expect(await writeCounters(files, '/cache/src/ih-out-1', into)).toBe(1);
      expect(readFileSync(join(into, 'drivers/md/dm-crypt.gcda'), 'utf8')).toBe('x');
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  });
});
