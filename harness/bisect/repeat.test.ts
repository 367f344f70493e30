import { describe, expect, it } from 'vitest';
import { repeatStep } from './repeat.ts';
import type { BisectDecision } from '../verdict/bisect.ts';

const good: BisectDecision = { code: 0, reason: 'good', from: 'cells' };
const bad: BisectDecision = { code: 1, reason: 'bad', from: 'cells' };
const skip: BisectDecision = { code: 125, reason: 'infra', from: 'infra' };
const unbuilt: BisectDecision = { code: 125, reason: 'did not build', from: 'build-failed' };
const usage: BisectDecision = { code: 255, reason: 'usage', from: 'usage' };

async function run(n: number, answers: BisectDecision[]) {
  let calls = 0;
  const d = await repeatStep(n, async (i) => {
    calls += 1;
    return answers[i]!;
  });
  return { d, calls };
}

describe('repeatStep', () => {
  it('is bad as soon as one run is bad, and stops there', async () => {
    expect(await run(3, [good, bad, good])).toMatchObject({ d: { code: 1 }, calls: 2 });
    expect(await run(3, [skip, good, bad])).toMatchObject({ d: { code: 1 }, calls: 3 });
  });

  it('is good only when every run is good', async () => {
    expect(await run(3, [good, good, good])).toMatchObject({ d: { code: 0, reason: 'good [run 3 of up to 3]' }, calls: 3 });
    expect(await run(3, [good, skip, good])).toMatchObject({ d: { code: 125, reason: expect.stringContaining('infra') }, calls: 3 });
  });

  it('does not build again what did not build, and aborts at once on a usage error', async () => {
    expect(await run(3, [unbuilt, good, good])).toMatchObject({ d: { code: 125 }, calls: 1 });
    expect(await run(3, [usage, good, good])).toMatchObject({ d: { code: 255 }, calls: 1 });
  });

  it('with n = 1 is the step itself', async () => {
    expect(await run(1, [bad])).toEqual({ d: bad, calls: 1 });
  });
});
