/**
 * What the tests need beyond the harness itself (REQUIREMENTS, BUILD_REQUIREMENTS): npm test's global setup
 * installs these the way preflight installs the harness's own (apt-get as root, or the exact command), and a
 * test that finds one missing fails with that command instead of skipping, so a green `npm test` means the
 * check ran.
 */
import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import type { Requirement } from '../preflight.ts';
import { chromiumAvailable } from '../reports/chromium.ts';

/** Debian's kernel source: the KTAP parser (tools/testing/kunit) and the src:6.1 builds come from it. */
export const LINUX_SOURCE_6_1 = '/usr/src/linux-source-6.1.tar.xz';

const runs = async (cmd: string, args: string[]) => (await execa(cmd, args, { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;

export const TEST_REQUIREMENTS: Requirement[] = [
  { what: 'chromium (report.html rendered headless)', check: chromiumAvailable, pkg: 'chromium' },
  { what: `linux-source-6.1 (${LINUX_SOURCE_6_1}: the kernel's KTAP parser)`, check: () => stat(LINUX_SOURCE_6_1).then((s) => s.isFile(), () => false), pkg: 'linux-source-6.1' },
  { what: 'python3 (the KTAP parser, junit.xml checks)', check: () => runs('python3', ['--version']), pkg: 'python3' },
  { what: 'ccache (kernel builds)', check: () => runs('ccache', ['--version']), pkg: 'ccache' },
];

/** In a test: fails with the install line when `what` (a TEST_REQUIREMENTS or preflight entry) is missing. */
export async function needs(req: Requirement): Promise<void> {
  if (await req.check()) return;
  throw new Error(`this test needs ${req.what}, which is missing: apt-get install -y ${req.pkg} (npm test's global setup installs it when run as root)`);
}

/** The requirement named `what` (its text up to the first space or parenthesis), for needs(). */
export function testRequirement(what: 'chromium' | 'linux-source-6.1' | 'python3' | 'ccache'): Requirement {
  const r = TEST_REQUIREMENTS.find((x) => x.what.split(/[ (]/)[0] === what);
  if (r === undefined) throw new Error(`no test requirement ${what}`);
  return r;
}
