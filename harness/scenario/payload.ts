/**
 * The bytes a scenario's write steps write: a host-generated keystream per step, which the cells put on the
 * payload disk for the guest to copy, and which the model and the reproducer's expectations compare against.
 */
import { InfraError } from '../errors.ts';
import { pattern } from '../model/pattern.ts';
import type { Scenario } from './load.ts';
import type { IoRange } from './schema.ts';

/** The bytes a write step writes: a keystream seeded by scenario id and step index. */
export function writePattern(scenario: Pick<Scenario, 'id'>, step: number, r: Pick<IoRange, 'length'>): Buffer {
  return pattern(`${scenario.id}#${step}`, 0, r.length);
}

/** Every write step's bytes, in step order, at the payload-disk offset `offsets` plans for its step. */
export function payloadParts(scenario: Scenario, offsets: ReadonlyMap<number, number>): Array<{ step: number; offset: number; bytes: Buffer }> {
  const parts: Array<{ step: number; offset: number; bytes: Buffer }> = [];
  for (const [i, step] of scenario.steps.entries()) {
    if (typeof step === 'string' || !('write' in step)) continue;
    const offset = offsets.get(i);
    if (offset === undefined) throw new InfraError(`${scenario.id}: no payload offset planned for write step ${i}`);
    parts.push({ step: i, offset, bytes: writePattern(scenario, i, step.write) });
  }
  return parts;
}
