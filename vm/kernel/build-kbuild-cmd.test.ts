import { describe, expect, it } from 'vitest';
import { skipEmptyCommandsArg } from './build-kbuild-cmd.ts';

describe('skipEmptyCommandsArg', () => {
  it('guards the tree’s own definition of cmd (6.1)', () => {
    const text = [
      '# printing commands',
      'cmd = @set -e; $(echo-cmd) $($(quiet)redirect) $(delete-on-interrupt) $(cmd_$(1))',
      '',
      'ifneq ($(KBUILD_NOCMDDEP),1)',
    ].join('\n');
    expect(skipEmptyCommandsArg(text)).toBe(
      'cmd=$(if $(cmd_$(1)),@set -e; $(echo-cmd) $($(quiet)redirect) $(delete-on-interrupt) $(cmd_$(1)))',
    );
  });

  it('keeps an older tree’s shorter definition', () => {
    expect(skipEmptyCommandsArg('cmd = @set -e; $(echo-cmd) $(cmd_$(1))\n')).toBe('cmd=$(if $(cmd_$(1)),@set -e; $(echo-cmd) $(cmd_$(1)))');
  });

  it('leaves trees alone whose definition it does not recognise', () => {
    expect(skipEmptyCommandsArg('')).toBeUndefined();
    expect(skipEmptyCommandsArg('cmd = @set -e; \\\n\t$(cmd_$(1))\n')).toBeUndefined();
    expect(skipEmptyCommandsArg('cmd = @$(echo-cmd) $(cmd_$1)\n')).toBeUndefined();
  });
});
