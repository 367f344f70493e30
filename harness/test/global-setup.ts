/**
 * Runs once before any test file: the same preflight as `npm run matrix`, with what kernel builds and the
 * tests themselves need (Chromium, linux-source-6.1, python3, ccache), so `npm test` on a fresh machine
 * installs the Debian packages (as root) or says exactly what to install. Tests that need one of them fail
 * with the install line when it is missing (requirements.ts, needs()), never skip.
 */
import { BUILD_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { TEST_REQUIREMENTS } from './requirements.ts';

export default async function setup(): Promise<void> {
  await preflight({ log: (l) => process.stderr.write(`${l}\n`), requirements: [...REQUIREMENTS, ...BUILD_REQUIREMENTS, ...TEST_REQUIREMENTS] });
}
