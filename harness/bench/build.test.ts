import { describe, expect, it } from 'vitest';
import { makeStepMs } from './build.ts';

describe('makeStepMs', () => {
  it('reads the duration of the make bzImage step, not of configuring', () => {
    const log = [
      '$ make -C /s O=/o ARCH=x86_64 tinyconfig   (in /s)',
      '# exit 0 after 4.0 s',
      '$ make -C /s O=/o ARCH=x86_64 -j2 CC=ccache gcc bzImage   (in /s)',
      '  CC      block/bio-integrity.o',
      '# exit 0 after 151.3 s',
    ].join('\n');
    expect(makeStepMs(log)).toBe(151_300);
    expect(makeStepMs('$ make tinyconfig\n# exit 0 after 1.0 s')).toBeNaN();
  });
});
