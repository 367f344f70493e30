/**
 * A scenario's write payload: one keystream per write step, seeded by scenario id and step index (stored runs
 * and reproducers regenerate it from those two), placed where the transfer plan says.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from './load.ts';
import { payloadParts, writePattern } from './payload.ts';

const scenarios = resolve(import.meta.dirname, '../../scenarios');
const load = () => loadScenario(join(scenarios, 'integrity/011-fua-flush-heal.yaml'), scenarios);

describe('scenario payload', () => {
  it('gives each write step the keystream of its scenario id and step index', async () => {
    const s = await load();
    // first bytes of AES-256-CTR keyed by sha256('integrity/011-fua-flush-heal#0') and '#6', computed apart
    expect(writePattern(s, 0, { length: 8 }).toString('hex')).toBe('db6d09ea2e159c90');
    expect(writePattern(s, 6, { length: 8 }).toString('hex')).toBe('89b9fa0615b60566');
    expect(writePattern(s, 0, { length: 1 << 20 }).subarray(0, 8)).toEqual(writePattern(s, 0, { length: 8 }));
  });

  it('lists the write steps only, in order, at their planned offsets', async () => {
    const s = await load();
    const offsets = new Map([[0, 0], [2, 0], [6, 1 << 20], [8, 1 << 20]]);
    const parts = payloadParts(s, offsets);
    expect(parts.map((p) => [p.step, p.offset, p.bytes.length])).toEqual([[0, 0, 1 << 20], [6, 1 << 20, 8192]]);
    expect(parts[1]!.bytes).toEqual(writePattern(s, 6, { length: 8192 }));
  });

  it('names the scenario and step when the plan has no offset for a write', async () => {
    const s = await load();
    expect(() => payloadParts(s, new Map([[0, 0]]))).toThrow('integrity/011-fua-flush-heal: no payload offset planned for write step 6');
  });
});
