/** What a crypt-aead or luks2 stack and its steps need: dm-crypt AEAD on dm-integrity (scenario/requirements.ts collects it). */
import type { Needs } from '../../scenario/needs.ts';
import type { Step } from '../../scenario/schema.ts';
import { INTEGRITY_TARGET } from '../integrity/integrity-requirements.ts';
import { CRYPT_FLAG_VERSIONS, type CryptAeadStack } from './crypt-schema.ts';
import type { Luks2Stack } from './luks-schema.ts';

/** dm-crypt raw tables: the oldest target the crypt ctr model describes (5.9's 1.22.0, with no_*_workqueue, as 5.10). */
export const CRYPT_TARGET_CTR_MODEL = '1.22.0';

/** What the crypt-aead or luks2 stack `st` and the scenario's `steps` add to its requirements. */
export function aeadNeeds(st: CryptAeadStack | Luks2Stack, steps: readonly Step[], { targets, option, atLeast }: Needs): void {
  // dm-crypt AEAD on dm-integrity, from dmsetup tables (crypt-aead) or cryptsetup (luks2)
  targets.add('integrity');
  targets.add('crypt');
  // the crypt-aead cell's dm-integrity table asks for fix_padding only where the target has it (crypt-cell.ts)
  if (st.type === 'crypt-aead' && st.mode === 'bitmap') atLeast('integrity', INTEGRITY_TARGET.bitmap);
  if (st.allowDiscards) atLeast('integrity', INTEGRITY_TARGET.allowDiscards);
  if (st.type === 'crypt-aead') {
    for (const flag of st.flags) {
      atLeast('crypt', CRYPT_FLAG_VERSIONS[flag]);
    }
    if (steps.some((x) => typeof x === 'object' && 'tables' in x)) atLeast('crypt', CRYPT_TARGET_CTR_MODEL);
  }
  if (st.type === 'luks2') {
    for (const o of ['--integrity', '--volume-key-file', '--sector-size', '--pbkdf-force-iterations']) option('cryptsetup', o);
    if (st.integrityNoWipe) option('cryptsetup', '--integrity-no-wipe');
  }
}
