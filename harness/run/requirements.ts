import { effectiveRequirements, kernelVersionOf, parseDmTargets, parseProcCrypto, unmetRequirements, type GuestFacts } from '../scenario/requirements.ts';
import type { Scenario } from '../scenario/load.ts';
import type { GuestSession } from './cell.ts';
import { SkipCell } from './cell.ts';

/** Gathers what the scenario's requirements ask about, in the booted guest. */
export async function gatherFacts(s: GuestSession, scenario: Scenario): Promise<GuestFacts> {
  const req = effectiveRequirements(scenario);
  const procVersion = (await s.must(['cat', '/proc/version'])).stdout.toString().trim();
  const targets = parseDmTargets((await s.must(['dmsetup', 'targets'])).stdout.toString());
  // /proc/crypto lists templates such as hmac(sha256) only once something instantiated them
  for (const alg of req.crypto) await s.run(['ih-io', 'alg', alg]);
  const crypto = parseProcCrypto((await s.must(['cat', '/proc/crypto'])).stdout.toString());
  const help = new Map<string, string | undefined>();
  for (const program of Object.keys(req.toolOptions)) {
    const found = await s.run(['which', program]);
    if (found.exitCode !== 0) {
      help.set(program, undefined);
      continue;
    }
    const r = await s.run([program, '--help']);
    help.set(program, r.stdout.toString() + r.stderr.toString());
  }
  return { kernelVersion: kernelVersionOf(procVersion), kernelText: procVersion, targets, crypto, help };
}

/** Throws SkipCell naming every unmet requirement; returns the facts for the rest of the cell. */
export async function checkRequirements(s: GuestSession, scenario: Scenario): Promise<GuestFacts> {
  const facts = await gatherFacts(s, scenario);
  const unmet = unmetRequirements(effectiveRequirements(scenario), facts);
  if (unmet.length > 0) throw new SkipCell(unmet.join('; '));
  s.note(`kernel ${facts.kernelVersion?.join('.') ?? '?'}; integrity target v${facts.targets.get('integrity') ?? '?'}`);
  return facts;
}
