import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../../vm/agent/client.ts';
import type { Guest } from '../../../vm/qemu/guest.ts';
import type { Scenario } from '../../scenario/load.ts';
import { GuestSession } from './cell.ts';
import { SkipCell } from '../../verdict/failures.ts';
import { MODULES_FAILED, algorithmPieces } from './guest-untested.ts';
import { checkRequirements, gatherFacts } from './requirements.ts';
import { KernelUntested } from '../../untested.ts';

const PROC_VERSION = 'Linux version 6.1.0-56-amd64 (gcc) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-01-01)';

/** A guest that answers the requirement commands and counts them; `targets` and `crypto` change on demand. */
function fakeGuest(world: { targets: string; crypto: string[]; modulesFailed?: string; provides?: string[]; instantiable?: boolean }) {
  const ran: string[] = [];
  const guest = {
    mark: async () => undefined,
    exec: async (argv: string[]): Promise<ExecResult> => {
      ran.push(argv.join(' '));
      const out = (stdout: string, exitCode = 0) => ({ argv, exitCode, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), durationMs: 1, timedOut: false, reaped: true, execErrno: null, stdoutTruncated: false, stderrTruncated: false });
      const cmd = argv.join(' ');
      if (cmd === 'cat /proc/version') return out(PROC_VERSION);
      if (cmd === `cat ${MODULES_FAILED}`) return world.modulesFailed === undefined ? out('', 1) : out(world.modulesFailed);
      if (argv[0] === 'modprobe' && argv[1] === '-n') return out('', world.provides?.includes(argv[3]!.replace(/^crypto-/, '')) ? 0 : 1);
      if (cmd === 'dmsetup targets') return out(world.targets);
      if (cmd === 'cat /proc/crypto') return out(world.crypto.map((c) => `name         : ${c}\ndriver       : ${c}-generic\n`).join('\n'));
      if (argv[0] === 'ih-io' && argv[1] === 'alg') { if (world.instantiable !== false) world.crypto.push(argv[2]!); return out(''); }
      if (argv[0] === 'which') return out(`/usr/sbin/${argv[1]}`);
      if (argv[1] === '--help') return out('  --integrity-bitmap-mode  --allow-discards');
      throw new Error(`unexpected ${cmd}`);
    },
  } as unknown as Guest;
  return { guest, ran };
}

const scenario = (hash: string) => ({
  id: 'g/x', requires: { targets: [], targetVersions: {}, crypto: [], toolOptions: {} }, steps: ['status'], disks: [{ name: 'data', size: 1 << 26, logicalBlockSize: 512 }],
  stack: { type: 'integrity', disk: 'data', hash, mode: 'bitmap', lower: 'disk', sectorSize: 512, allowDiscards: false },
}) as unknown as Scenario;

describe('gatherFacts in a shared guest', () => {
  it('asks the constant facts once per guest and instantiates only algorithms /proc/crypto does not list', async () => {
    const world = { targets: 'integrity        v1.10.0\nlinear           v1.4.0', crypto: ['sha256'] };
    const { guest, ran } = fakeGuest(world);
    const cache = new Map<string, ExecResult>();
    const session = () => {
      const s = new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-req-')), 'steps.jsonl'));
      s.onceCache = cache;
      return s;
    };
    const first = await gatherFacts(session(), scenario('crc32c'));
    expect(first.crypto.has('crc32c')).toBe(true);
    expect(ran).toEqual([`cat ${MODULES_FAILED}`, 'cat /proc/version', 'dmsetup targets', 'cat /proc/crypto', 'ih-io alg crc32c', 'cat /proc/crypto', 'which integritysetup', 'integritysetup --help']);
    ran.length = 0;
    const s2 = session();
    await s2.begin(-1, 'setup');
    const second = await gatherFacts(s2, scenario('crc32c'));
    expect(ran).toEqual(['cat /proc/crypto']);
    expect(second.targets.get('integrity')).toBe('1.10.0');
    expect(second.help.get('integritysetup')).toContain('--integrity-bitmap-mode');
    await s2.end();
    expect(s2.steps[0]!.commands.filter((c) => c.cached).map((c) => c.argv.join(' '))).toEqual([`cat ${MODULES_FAILED}`, 'cat /proc/version', 'dmsetup targets', 'which integritysetup', 'integritysetup --help']);
  });

  it('asks for the targets again when one the scenario needs is not among the cached ones', async () => {
    const world = { targets: 'linear           v1.4.0', crypto: ['crc32c'] };
    const { guest, ran } = fakeGuest(world);
    const s = new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-req-')), 'steps.jsonl'));
    s.onceCache = new Map();
    await gatherFacts(s, scenario('crc32c'));
    world.targets = 'integrity        v1.10.0\nlinear           v1.4.0';
    ran.length = 0;
    const facts = await gatherFacts(s, scenario('crc32c'));
    expect(ran.filter((c) => c === 'dmsetup targets')).toHaveLength(1);
    expect(facts.targets.has('integrity')).toBe(true);
  });

  it('without a cache (a guest of its own) runs everything', async () => {
    const { guest, ran } = fakeGuest({ targets: 'integrity        v1.10.0', crypto: ['crc32c'] });
    const s = new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-req-')), 'steps.jsonl'));
    await gatherFacts(s, scenario('crc32c'));
    await gatherFacts(s, scenario('crc32c'));
    expect(ran.filter((c) => c === 'cat /proc/version')).toHaveLength(2);
  });
});

describe('skip or untested: what the kernel lacks against what the guest failed to provide', () => {
  const session = (world: Parameters<typeof fakeGuest>[0]) => new GuestSession(fakeGuest(world).guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-req-')), 'steps.jsonl'));

  it('a boot module init could not load leaves the kernel untested before any requirement is asked', async () => {
    const s = session({ targets: 'linear           v1.4.0', crypto: ['crc32c'], modulesFailed: 'dm_integrity: modprobe: FATAL: Module dm_integrity not found\n' });
    const e = await checkRequirements(s, scenario('crc32c')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelUntested);
    expect((e as Error).message).toMatch(/^kernel not tested: the guest could not load module\(s\) .*dm_integrity: modprobe: FATAL/);
  });

  it('a cipher no module or built-in provides is the kernel lacking it: skip', async () => {
    const s = session({ targets: 'integrity        v1.10.0', crypto: [], provides: ['hmac'], instantiable: false });
    const e = await checkRequirements(s, scenario('hmac-sha256')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SkipCell);
    expect((e as Error).message).toContain('kernel lacks sha256 (no module in the image and nothing built in provides crypto-sha256)');
  });

  it('a cipher whose every piece the kernel provides, yet not available, is the kernel untested', async () => {
    const s = session({ targets: 'integrity        v1.10.0', crypto: [], provides: ['hmac', 'sha256'], instantiable: false });
    const e = await checkRequirements(s, scenario('hmac-sha256')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelUntested);
    expect((e as Error).message).toContain('hmac(sha256) is not available in the guest although the kernel provides crypto-hmac, crypto-sha256');
  });

  it('takes the algorithm names out of crypto API names and cipher specs', () => {
    expect(algorithmPieces('gcm(aes)')).toEqual(['gcm', 'aes']);
    expect(algorithmPieces('capi:authenc(hmac(sha256),cbc(aes))-random')).toEqual(['authenc', 'hmac', 'sha256', 'cbc', 'aes']);
    expect(algorithmPieces('aes-xts-plain64')).toEqual(['aes', 'xts']);
    expect(algorithmPieces('rfc7539(chacha20,poly1305)')).toEqual(['rfc7539', 'chacha20', 'poly1305']);
  });
});
