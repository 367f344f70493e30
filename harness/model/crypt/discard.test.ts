import { describe, expect, it } from 'vitest';
import { EOPNOTSUPP } from '../integrity/device.ts';
import { expectCryptDiscard, integrityTakesAllowDiscards, INTEGRITY_DISCARD_REFUSAL } from './discard.ts';

describe('discards through dm-crypt AEAD on dm-integrity', () => {
  it('dm-integrity takes allow_discards only with an internal hash', () => {
    expect(integrityTakesAllowDiscards({ internalHash: true })).toEqual({ ok: true });
    expect(integrityTakesAllowDiscards({ internalHash: false })).toEqual({ ok: false, error: INTEGRITY_DISCARD_REFUSAL });
  });

  it('BLKDISCARD on the crypt device fails with EOPNOTSUPP and a zero discard limit, with or without allow_discards in dm-crypt', () => {
    for (const cryptAllowDiscards of [true, false]) {
      const e = expectCryptDiscard({ cryptAllowDiscards });
      expect([e.ok, e.errno, e.maxDiscardBytes]).toEqual([false, EOPNOTSUPP, 0]);
    }
    expect(expectCryptDiscard({ cryptAllowDiscards: true }).why).toMatch(/dm-integrity .* takes no discards/);
    expect(expectCryptDiscard({ cryptAllowDiscards: false }).why).toMatch(/dm-crypt table without allow_discards/);
  });
});
