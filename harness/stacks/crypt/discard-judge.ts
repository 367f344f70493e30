/**
 * Judges the refusals of allow_discards under dm-crypt AEAD (model/crypt/discard.ts): dm-integrity without an
 * internal hash refuses a table with allow_discards and logs why; cryptsetup refuses `open --allow-discards`
 * of a LUKS2 device with integrity. Pure: the cell tries the load or the open, reads dmesg where the kernel
 * refused, and records what this returns.
 */
import { tail } from '../../errors.ts';
import type { Disagreement } from '../../verdict/types.ts';
import { targetError } from './crypt-stack.ts';

/** What a refusal check hands on: the disagreements, and the refusal the kernel or tool gave (for the cell's note). */
export interface DiscardRefusalJudgement {
  disagreements: Disagreement[];
  said: string | undefined;
}

/**
 * `dmsetup create` of dm-integrity with allow_discards against integrityTakesAllowDiscards(): a table the
 * model refuses must fail to load and leave the model's reason as the integrity target's last table error
 * in `dmesg` (read only after a refusal).
 */
export function judgeIntegrityDiscardRefusal(
  want: { ok: true } | { ok: false; error: string },
  load: { exitCode: number | null; stderr: string },
  dmesg: string | undefined,
): DiscardRefusalJudgement {
  const said = load.exitCode === 0 ? undefined : targetError(dmesg ?? '', 'integrity');
  const found = said ?? `no integrity table error logged (dmsetup: ${load.stderr.trim()})`;
  if (want.ok) {
    return { said, disagreements: load.exitCode === 0 ? [] : [{ step: -1, kind: 'discard-refusal', expected: 'dm-integrity takes allow_discards (model)', found }] };
  }
  if (load.exitCode === 0) {
    return { said, disagreements: [{ step: -1, kind: 'discard-refusal', expected: `dm-integrity refuses allow_discards: ${want.error}`, found: 'table loaded' }] };
  }
  if (said?.includes(want.error)) return { said, disagreements: [] };
  return { said, disagreements: [{ step: -1, kind: 'discard-refusal', expected: `kernel log: integrity: ${want.error}`, found }] };
}

/** `cryptsetup open --allow-discards` of a LUKS2 device with integrity: it must fail with cryptsetup's `refusal` (the last lines of its stderr). */
export function judgeLuksDiscardRefusal(refusal: string, open: { exitCode: number | null; stderr: string }): DiscardRefusalJudgement {
  const said = tail(open.stderr, 2);
  if (open.exitCode === 0) {
    return { said, disagreements: [{ step: -1, kind: 'discard-refusal', expected: `cryptsetup open --allow-discards refused: ${refusal}`, found: 'opened' }] };
  }
  if (said.includes(refusal)) return { said, disagreements: [] };
  return { said, disagreements: [{ step: -1, kind: 'discard-refusal', expected: refusal, found: `exit ${open.exitCode}: ${said}` }] };
}
