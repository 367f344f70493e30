import { mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relocateToolCommands } from './build-relocate.ts';

describe('relocateToolCommands', () => {
  it('rewrites the old source path in tools/ command files only, keeping their mtimes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ih-reloc-'));
    mkdirSync(join(out, 'tools', 'objtool', 'arch'), { recursive: true });
    mkdirSync(join(out, 'block'));
    const cmd = join(out, 'tools', 'objtool', 'arch', '.decode.o.cmd');
    const dep = join(out, 'tools', 'objtool', '.fixdep.o.d');
    const kbuild = join(out, 'block', '.bio.o.cmd');
    const source = join(out, 'tools', 'objtool', 'check.c');
    writeFileSync(cmd, 'cmd_/old/src/ih-out-1/tools/objtool/arch/decode.o := gcc -I/old/src/tools/include -o /old/src/ih-out-1/x.o\n');
    writeFileSync(dep, '/old/src/ih-out-1/tools/objtool/fixdep.o: /old/src/tools/build/fixdep.c\n');
    writeFileSync(kbuild, 'cmd_block/bio.o := gcc -I/old/src/include\n');
    writeFileSync(source, '/old/src/\n');
    const past = new Date('2020-01-01T00:00:00Z');
    utimesSync(cmd, past, past);

    expect(await relocateToolCommands(out, '/old/src/', '/new/patched/')).toBe(2);
    expect(readFileSync(cmd, 'utf8')).toBe('cmd_/new/patched/ih-out-1/tools/objtool/arch/decode.o := gcc -I/new/patched/tools/include -o /new/patched/ih-out-1/x.o\n');
    expect(readFileSync(dep, 'utf8')).toBe('/new/patched/ih-out-1/tools/objtool/fixdep.o: /new/patched/tools/build/fixdep.c\n');
    expect(statSync(cmd).mtime.getTime()).toBe(past.getTime());
    expect(readFileSync(kbuild, 'utf8')).toContain('/old/src/');
    expect(readFileSync(source, 'utf8')).toBe('/old/src/\n');
  });

  it('does nothing without a tools/ directory', async () => {
    expect(await relocateToolCommands(mkdtempSync(join(tmpdir(), 'ih-reloc-')), '/a/', '/b/')).toBe(0);
  });
});
