import { effectiveRequirements, kernelVersionOf, parseDmTargets, parseProcCrypto, unmetRequirements, type GuestFacts } from '../../scenario/requirements.ts';
import type { Scenario } from '../../scenario/load.ts';
import type { GuestSession } from './cell.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { KernelFailure, SkipCell } from '../../verdict/failures.ts';
import { tail } from '../../errors.ts';
import { checkGuestModules, unavailableAlgorithm } from './guest-untested.ts';

/**
 * Gathers what the scenario's requirements ask about, in the booted guest. In a shared guest the kernel's
 * version and the tools' --help are asked once (they cannot change), and so are the device-mapper targets,
 * asked again when one the scenario needs is not among them (a module may have registered it since).
 */
export async function gatherFacts(s: GuestSession, scenario: Scenario): Promise<GuestFacts> {
  const req = effectiveRequirements(scenario);
  // A guest that did not load the modules the stacks need cannot say what the kernel lacks: untested, not skip.
  await checkGuestModules(s);
  const must = async (argv: string[]) => {
    const r = await s.runOnce(argv);
    if (r.exitCode !== 0) {
      s.forget(argv);
      throw new KernelFailure(`'${argv.join(' ')}' exited ${r.exitCode ?? r.signal}: ${tail(r.stderr.toString() || r.stdout.toString(), 5)}`);
    }
    return r.stdout.toString();
  };
  const procVersion = (await must(['cat', '/proc/version'])).trim();
  let targets = parseDmTargets(await must(['dmsetup', 'targets']));
  if (req.targets.some((t) => !targets.has(t))) {
    s.forget(['dmsetup', 'targets']);
    targets = parseDmTargets(await must(['dmsetup', 'targets']));
  }
  // /proc/crypto lists templates such as hmac(sha256) only once something instantiated them; once listed
  // they stay, so only what is not listed yet is instantiated
  let crypto = parseProcCrypto((await s.must(['cat', '/proc/crypto'])).stdout.toString());
  const absent = req.crypto.filter((alg) => !crypto.has(alg));
  if (absent.length > 0) {
    for (const alg of absent) await s.run(ioArgv({ cmd: 'alg', name: alg }));
    crypto = parseProcCrypto((await s.must(['cat', '/proc/crypto'])).stdout.toString());
  }
  const help = new Map<string, string | undefined>();
  for (const program of Object.keys(req.toolOptions)) {
    const found = await s.runOnce(['which', program]);
    if (found.exitCode !== 0) {
      help.set(program, undefined);
      continue;
    }
    const r = await s.runOnce([program, '--help']);
    help.set(program, r.stdout.toString() + r.stderr.toString());
  }
  return { kernelVersion: kernelVersionOf(procVersion), kernelText: procVersion, targets, crypto, help };
}

/** Throws SkipCell naming every unmet requirement; returns the facts for the rest of the cell. */
export async function checkRequirements(s: GuestSession, scenario: Scenario): Promise<GuestFacts> {
  const facts = await gatherFacts(s, scenario);
  const req = effectiveRequirements(scenario);
  const unmet = unmetRequirements(req, facts);
  if (unmet.length > 0) {
    // A cipher the kernel provides but the guest could not instantiate is the kernel untested (throws), not a skip.
    for (const alg of req.crypto.filter((c) => !facts.crypto.has(c))) unmet.push(await unavailableAlgorithm(s, alg));
    throw new SkipCell(unmet.join('; '));
  }
  s.note(`kernel ${facts.kernelVersion?.join('.') ?? '?'}; integrity target v${facts.targets.get('integrity') ?? '?'}`);
  return facts;
}
