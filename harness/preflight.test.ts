import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUIREMENTS } from './preflight.ts';

describe('preflight checks', () => {
  const saved = process.env.PATH;
  afterEach(() => { process.env.PATH = saved; });
  const qemu = REQUIREMENTS.find((r) => r.what === 'qemu-system-x86_64')!;

  it('finds a program the way `command -v` does: an executable file in a PATH directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ih-path-'));
    const other = mkdtempSync(join(tmpdir(), 'ih-path-'));
    process.env.PATH = `${other}:${dir}`;
    expect(await qemu.check()).toBe(false);
    writeFileSync(join(dir, 'qemu-system-x86_64'), '#!/bin/sh\n');
    expect(await qemu.check(), 'not executable').toBe(false);
    chmodSync(join(dir, 'qemu-system-x86_64'), 0o755);
    expect(await qemu.check()).toBe(true);
    mkdirSync(join(other, 'qemu-system-x86_64'));
    chmodSync(join(other, 'qemu-system-x86_64'), 0o755);
    expect(await qemu.check(), 'a directory earlier on PATH is skipped').toBe(true);
    process.env.PATH = other;
    expect(await qemu.check(), 'a directory is not a program').toBe(false);
  });
});
