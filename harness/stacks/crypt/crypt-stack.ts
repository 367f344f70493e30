/**
 * dmsetup tables and argv for the crypt-aead stack, and how to read what the kernel says about it. Pure:
 * the runner executes these through the agent.
 *
 * integritysetup always gives dm-integrity an internal hash (crc32c by default), while dm-crypt AEAD needs
 * one without (the tags are dm-crypt's tuples), so dm-integrity is built with a table, as cryptsetup does
 * for LUKS2 --integrity aead: with a zeroed superblock area the target formats itself on first load
 * (dm_integrity_ctr() -> initialize_superblock()), nothing is wiped, and never-written sectors have no
 * valid tuple. fix_padding is what cryptsetup 2.x asks for on new devices, where the target has it (1.4.0).
 */
import type { CryptAeadCipher } from '../../model/crypt/cipher.ts';
import type { CryptAeadStack } from './crypt-schema.ts';

export const INTEGRITY_NAME = 'ih-int';
export const CRYPT_NAME = 'ih-crypt';
/** The throw-away device that formats dm-integrity: one block long, always fits. */
export const FORMAT_NAME = 'ih-int-format';

const MODE_LETTER: Record<CryptAeadStack['mode'], string> = { journal: 'J', bitmap: 'B', direct: 'D' };

export function integrityTable(p: { device: string; sectors: number; tagSize: number; mode: CryptAeadStack['mode']; blockSize: number; allowDiscards?: boolean; fixPadding: boolean }): string {
  const opts = [...(p.blockSize !== 512 ? [`block_size:${p.blockSize}`] : []), ...(p.fixPadding ? ['fix_padding'] : []), ...(p.allowDiscards ? ['allow_discards'] : [])];
  return `0 ${p.sectors} integrity ${p.device} 0 ${p.tagSize} ${MODE_LETTER[p.mode]} ${[opts.length, ...opts].join(' ')}`;
}

export function cryptTable(p: { sectors: number; cipher: CryptAeadCipher; key: Buffer; lower: string; sectorSize: number; allowDiscards?: boolean; flags?: readonly string[] }): string {
  const opts = [...(p.allowDiscards ? ['allow_discards'] : []), ...(p.flags ?? []), `integrity:${p.cipher.tupleSize}:aead`, ...(p.sectorSize !== 512 ? [`sector_size:${p.sectorSize}`] : [])];
  return `0 ${p.sectors} crypt ${p.cipher.spec} ${p.key.toString('hex')} 0 ${p.lower} 0 ${opts.length} ${opts.join(' ')}`;
}

export function dmCreateArgv(name: string, table: string): string[] {
  return ['dmsetup', 'create', name, '--table', table];
}

export function dmRemoveArgv(name: string): string[] {
  return ['dmsetup', 'remove', name];
}

/** Sectors named by dm-crypt's `INTEGRITY AEAD ERROR, sector <n>` lines (crypt-target-relative, 512-byte). */
export function aeadErrorSectors(kernelLog: string): number[] {
  return [...kernelLog.matchAll(/INTEGRITY AEAD ERROR, sector (\d+)/g)].map((m) => Number(m[1]));
}

/** The kernel's table-load complaint for a target: "device-mapper: table: 253:1: crypt: <error> (-ERRNO)". */
export function targetError(kernelLog: string, target: string): string | undefined {
  const lines = kernelLog.split('\n').filter((l) => l.includes(`: ${target}: `) && l.includes('device-mapper: table:'));
  return lines.at(-1)?.replace(/^.*device-mapper: table: /, '').trim();
}

/** /proc/crypto lists an algorithm once instantiated: `name : gcm(aes)`, then its driver. */
export function cryptoDriver(procCrypto: string, algorithm: string): string | undefined {
  for (const block of procCrypto.split(/\n\s*\n/)) {
    const name = block.match(/^name\s*:\s*(.+)$/m)?.[1]?.trim();
    if (name === algorithm) return block.match(/^driver\s*:\s*(.+)$/m)?.[1]?.trim();
  }
  return undefined;
}

/**
 * Why `dmsetup create` of the crypt target failed. `skip` only when the kernel cannot instantiate the
 * cipher: dm-crypt's constructor says "Error allocating crypto tfm" with ENOENT (crypto_alloc_aead() found
 * no algorithm and no module) and /proc/crypto does not list it. Anything else is the kernel failing.
 */
export function classifyCryptCreateFailure(c: CryptAeadCipher, stderr: string, kernelLog: string, procCrypto: string): { verdict: 'skip' | 'fail'; reason: string } {
  const err = targetError(kernelLog, 'crypt');
  const enoent = /ENOENT/.test(err ?? '') || /No such file or directory/.test(stderr);
  const said = err ?? stderr.trim().split('\n').at(-1) ?? 'no message';
  if (err?.includes('Error allocating crypto tfm') && enoent && cryptoDriver(procCrypto, c.algorithm) === undefined) {
    return { verdict: 'skip', reason: `kernel lacks the AEAD ${c.algorithm} for ${c.spec} (dm-crypt: ${said}; not in /proc/crypto)` };
  }
  return { verdict: 'fail', reason: `dmsetup create ${CRYPT_NAME} (${c.spec}) failed: ${said}` };
}
