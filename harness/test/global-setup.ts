/**
 * Runs once before any test file: the same preflight as `npm run matrix`, so `npm test` on a fresh machine
 * installs the Debian packages the guest tests need (as root) or says exactly what to install.
 */
import { preflight } from '../preflight.ts';

export default async function setup(): Promise<void> {
  await preflight({ log: (l) => process.stderr.write(`${l}\n`) });
}
