import { describe, expect, it } from 'vitest';
import { INTEGRITY_DISCARD_REFUSAL, integrityTakesAllowDiscards, LUKS2_DISCARD_REFUSAL } from '../../model/crypt/discard.ts';
import { judgeIntegrityDiscardRefusal, judgeLuksDiscardRefusal } from './discard-judge.ts';

// dmesg after `dmsetup create ih-int` with allow_discards and no internal hash (Debian 6.1)
const DMESG = `[   27.873490] device-mapper: table: 253:0: integrity: ${INTEGRITY_DISCARD_REFUSAL} (-EINVAL)
[   27.873601] device-mapper: ioctl: error adding target to table
`;
const STDERR = 'device-mapper: reload ioctl on ih-int  failed: Invalid argument\nCommand failed.\n';

describe('judgeIntegrityDiscardRefusal', () => {
  const want = integrityTakesAllowDiscards({ internalHash: false });

  it('agrees with a refused table whose reason the kernel logged, and hands on the line', () => {
    expect(judgeIntegrityDiscardRefusal(want, { exitCode: 1, stderr: STDERR }, DMESG)).toEqual({
      said: `253:0: integrity: ${INTEGRITY_DISCARD_REFUSAL} (-EINVAL)`, disagreements: [],
    });
  });

  it('finds a doctored load that succeeded, and a refusal with no reason logged', () => {
    expect(judgeIntegrityDiscardRefusal(want, { exitCode: 0, stderr: '' }, undefined).disagreements).toEqual([
      { step: -1, kind: 'discard-refusal', expected: `dm-integrity refuses allow_discards: ${INTEGRITY_DISCARD_REFUSAL}`, found: 'table loaded' },
    ]);
    expect(judgeIntegrityDiscardRefusal(want, { exitCode: 1, stderr: STDERR }, '[   27.8] device-mapper: ioctl: error adding target to table\n').disagreements).toEqual([
      { step: -1, kind: 'discard-refusal', expected: `kernel log: integrity: ${INTEGRITY_DISCARD_REFUSAL}`, found: 'no integrity table error logged (dmsetup: device-mapper: reload ioctl on ih-int  failed: Invalid argument\nCommand failed.)' },
    ]);
  });
});

describe('judgeLuksDiscardRefusal', () => {
  const REFUSED = `${LUKS2_DISCARD_REFUSAL}\n`;

  it('agrees with cryptsetup refusing the open with its reason', () => {
    expect(judgeLuksDiscardRefusal(LUKS2_DISCARD_REFUSAL, { exitCode: 1, stderr: REFUSED })).toEqual({ said: LUKS2_DISCARD_REFUSAL, disagreements: [] });
  });

  it('finds a doctored open that succeeded, and a refusal for another reason', () => {
    expect(judgeLuksDiscardRefusal(LUKS2_DISCARD_REFUSAL, { exitCode: 0, stderr: '' }).disagreements).toEqual([
      { step: -1, kind: 'discard-refusal', expected: `cryptsetup open --allow-discards refused: ${LUKS2_DISCARD_REFUSAL}`, found: 'opened' },
    ]);
    expect(judgeLuksDiscardRefusal(LUKS2_DISCARD_REFUSAL, { exitCode: 5, stderr: 'Device ih-luks already exists.\n' }).disagreements).toEqual([
      { step: -1, kind: 'discard-refusal', expected: LUKS2_DISCARD_REFUSAL, found: 'exit 5: Device ih-luks already exists.' },
    ]);
  });
});
