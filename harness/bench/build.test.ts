import { describe, expect, it } from 'vitest';
import { makeStep } from './build.ts';

describe('makeStep', () => {
  it('reads the duration of the make bzImage step, not of configuring', () => {
    const log = [
      '$ make -C /s O=/o ARCH=x86_64 tinyconfig   (in /s)',
      '# exit 0 after 4.0 s',
      '$ make -C /s O=/o ARCH=x86_64 -j2 CC=ccache gcc bzImage   (in /s)',
      '  CC      block/bio-integrity.o',
      '# exit 0 after 151.3 s, cpu 290.6 s',
    ].join('\n');
    expect(makeStep(log)).toEqual({ ms: 151_300, cpuMs: 290_600 });
    expect(makeStep('$ make tinyconfig\n# exit 0 after 1.0 s').ms).toBeNaN();
  });

  it('reads the make of either boot image', () => {
    const log = '$ make -C /s O=/o ARCH=x86_64 olddefconfig\n# exit 0 after 2.0 s\n$ make -C /o -f /s/Makefile -o . -j2 vmlinux   (in /s)\n# exit 0 after 14.0 s, cpu 12.5 s';
    expect(makeStep(log)).toEqual({ ms: 14_000, cpuMs: 12_500 });
  });

  it('reads logs written before runStep logged CPU time', () => {
    const step = makeStep('$ make -j2 bzImage\n# exit 0 after 20.5 s');
    expect(step.ms).toBe(20_500);
    expect(step.cpuMs).toBeNaN();
  });
});
