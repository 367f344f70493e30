/** The field types every part of a scenario's schema uses: a byte count, a name. */
import { z } from 'zod';
import { parseSize } from './size.ts';

/** A byte count: a number or a string like "64MiB", "4k". */
export const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 4096, "4KiB" or "64MiB", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

export const name = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case name like "data"');
