import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeMemoArgs, treeTryRun } from './build-probe-memo.ts';

// scripts/Makefile.compiler of 6.1, as far as try-run goes.
const TREE = [
  'TMPOUT = $(if $(KBUILD_EXTMOD),$(firstword $(KBUILD_EXTMOD))/).tmp_$$$$',
  '',
  'try-run = $(shell set -e;\t\t\\',
  '\tTMP=$(TMPOUT)/tmp;\t\t\\',
  '\ttrap "rm -rf $(TMPOUT)" EXIT;\t\\',
  '\tmkdir -p $(TMPOUT);\t\t\\',
  '\tif ($(1)) >/dev/null 2>&1;\t\\',
  '\tthen echo "$(2)";\t\t\\',
  '\telse echo "$(3)";\t\t\\',
  '\tfi)',
  '',
  'cc-option = $(call try-run, $(CC) -Werror $(1) -c -x c /dev/null -o "$$TMP",$(1),$(2))',
  '',
].join('\n');

describe('treeTryRun', () => {
  it('joins the tree’s definition as make does', () => {
    expect(treeTryRun(TREE)).toBe(
      '$(shell set -e; TMP=$(TMPOUT)/tmp; trap "rm -rf $(TMPOUT)" EXIT; mkdir -p $(TMPOUT); if ($(1)) >/dev/null 2>&1; then echo "$(2)"; else echo "$(3)"; fi)',
    );
  });

  it('leaves trees alone whose definition it does not recognise', () => {
    expect(treeTryRun('')).toBeUndefined();
    expect(treeTryRun('try-run = $(call try-run-cached,$(1),$(2),$(3))\n')).toBeUndefined();
    expect(treeTryRun('try-run = $(shell if ($(1)) >/dev/null 2>&1; then echo "$(2)"; fi)\n')).toBeUndefined();
  });
});

// A makefile that probes like kbuild (flags collected so far in the probe's text, a leading space in a result),
// run by real make with and without the memo: the same flags, and the second memoised make runs no probe.
describe('probeMemoArgs', () => {
  it('gives the flags the probes give, and probes once per build dir', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ih-probe-memo-'));
    const log = path.join(dir, 'probes.log');
    writeFileSync(
      path.join(dir, 'Makefile'),
      [
        TREE,
        `PROBE = echo "$$@" >> ${log}; test`,
        'FLAGS := -a',
        'FLAGS += $(call try-run,$(PROBE) ok $(FLAGS) -x=1:y,-x=1:y)',
        'FLAGS += $(call try-run,$(PROBE) fail $(FLAGS) -z,-z,$(space)-fallback#2)',
        'FLAGS += $(call try-run,$(PROBE) ok $(FLAGS) "$$TMP",$(space)-w)',
        'space := $(empty) $(empty)',
        'all: ; @echo "[$(FLAGS)]"',
        '',
      ].join('\n'),
    );
    const treeRun = treeTryRun(TREE)!;
    const make = async (args: string[]) => (await execa('make', ['-s', '-C', dir, ...args])).stdout;
    const plain = await make([]);
    const probesPlain = readFileSync(log, 'utf8').split('\n').length;
    const memo = probeMemoArgs(treeRun, path.join(dir, '.ih-probes.mk'));
    expect(await make(memo)).toBe(plain);
    const afterFirst = readFileSync(log, 'utf8').split('\n').length;
    expect(afterFirst - probesPlain).toBe(3);
    expect(await make(memo)).toBe(plain);
    expect(readFileSync(log, 'utf8').split('\n').length).toBe(afterFirst);
    expect(plain).toContain('-x=1:y');
  });
});
