import { describe, expect, it } from 'vitest';
import { needs, TEST_REQUIREMENTS, testRequirement } from './requirements.ts';

describe('what the tests need', () => {
  it('a missing tool fails the test with the apt-get line, it does not skip it', async () => {
    await expect(needs({ what: 'frobnicator', check: async () => false, pkg: 'frob-tools' }))
      .rejects.toThrow('this test needs frobnicator, which is missing: apt-get install -y frob-tools');
  });

  it("the global setup's list names Chromium and Debian's kernel source, and each is here after it ran", async () => {
    expect(TEST_REQUIREMENTS.map((r) => r.pkg)).toEqual(expect.arrayContaining(['chromium', 'linux-source-6.1', 'python3', 'ccache']));
    for (const name of ['chromium', 'linux-source-6.1', 'python3', 'ccache'] as const) await needs(testRequirement(name));
  }, 60_000);
});
