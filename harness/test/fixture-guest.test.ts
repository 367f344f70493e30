/** regenerateInGuest must refuse, not return, what a guest that never booted or did not pass left behind. */
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { CellResult } from '../run/session/observations.ts';

const next: { result: Partial<CellResult> } = { result: {} };
vi.mock('../run/single-cell.ts', () => ({
  runScenarioFile: async (p: { dir: string }) => ({ scenario: { id: 'x' }, result: next.result, dir: p.dir }),
}));
const { regenerateInGuest, removeRegeneratedDirs } = await import('./fixture-guest.ts');
const fixtures = join(import.meta.dirname, '..', 'model', 'crypt', 'fixtures');
afterAll(removeRegeneratedDirs);

describe('regenerateInGuest', () => {
  it('throws when the guest never booted (no kernel release), naming the verdict and reason', async () => {
    next.result = { verdict: 'error', reason: 'guest did not become ready within 120s' };
    await expect(regenerateInGuest(fixtures, 'gcm-512')).rejects.toThrow(/gcm-512 on 6\.1 .*never reported a kernel release.*error: guest did not become ready/);
  });

  it('throws when another kernel booted, or the recipe did not pass', async () => {
    next.result = { verdict: 'pass', reason: 'ok', kernelRelease: '6.12.1-amd64' };
    await expect(regenerateInGuest(fixtures, 'gcm-512')).rejects.toThrow(/booted 6\.12\.1-amd64, not 6\.1/);
    next.result = { verdict: 'fail', reason: '1 disagreement', kernelRelease: '6.1.0-56-amd64' };
    await expect(regenerateInGuest(fixtures, 'gcm-512')).rejects.toThrow(/fail: 1 disagreement/);
  });
});
