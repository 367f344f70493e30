import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveCryptKey, parseCryptCipher } from '../../model/crypt/cipher.ts';
import { cryptAeadSealer, cryptAeadVerifier } from '../../model/crypt/verifier.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { buildIntegrityImage } from '../../model/integrity/synthetic.ts';
import { judgeRawAfterClose } from '../../run/session/audit-judge.ts';
import { dropJournalReplay } from './crash-stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-crash-stack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cipher = parseCryptCipher('capi:gcm(aes)-random');
const key = deriveCryptKey(cipher, 'crash-stack-test');
const format = { deviceSectors: 8192, tagSize: cipher.tupleSize, interleaveSectors: 1024, fixPadding: true, sectorsPerBlock: 1 };

/** The raw disk after one history of writes (plaintext `fill` over sectors 1000..1047). */
function disk(fill: number) {
  const provided = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }) }).sb.providedDataSectors;
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: provided, wiped: false });
  model.write(1000, Buffer.alloc(48 * 512, fill));
  return buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }), model });
}

describe('judgeRawAfterClose on a dm-crypt AEAD disk after a crash', () => {
  const verifier = cryptAeadVerifier({ cipher, key });

  it('passes a disk where each sector holds one write\'s ciphertext with its own tuple; never-written sectors are blank', () => {
    const f = join(dir, 'good.img');
    writeFileSync(f, disk(1).image);
    expect(judgeRawAfterClose(4, f, { verifier, wiped: false }, 'point 3')).toEqual({ disagreements: [] });
    // a wiped stack (LUKS2 default) has no blank sectors: the same disk fails there
    expect(judgeRawAfterClose(4, f, { verifier, wiped: true }, 'point 3').disagreements[0]?.found).toMatch(/tag-mismatch/);
  });

  it('finds a doctored torn sector: the ciphertext of one write with the tuple of another does not authenticate', () => {
    const a = disk(1);
    const b = disk(2);
    const torn = Buffer.from(a.image);
    const tag = a.geometry.tagByteOffset(1010);
    b.image.copy(torn, tag, tag, tag + cipher.tupleSize);
    const f = join(dir, 'torn.img');
    writeFileSync(f, torn);
    expect(judgeRawAfterClose(4, f, { verifier, wiped: false }, 'point 3').disagreements).toEqual([{
      step: 4, kind: 'raw-tag-mismatch', block: 1010, sector: 1010,
      found: expect.stringMatching(/^1 audit finding\(s\); first tag-mismatch/), expected: 'every tag on the raw disk verifies after close at point 3',
    }]);
  });

  it('hands back a disk the model cannot read, for the step to fail the cell', () => {
    const j = judgeRawAfterClose(4, Buffer.alloc(disk(1).image.length), { verifier, wiped: false }, 'point 3');
    expect(j.disagreements).toEqual([]);
    expect(j.unreadable?.message).toBeTruthy();
  });

  it('the broken replay drops exactly dm-integrity\'s journal on the data disk', () => {
    const { geometry } = disk(1);
    const j = geometry.areas().find((x) => x.kind === 'journal')!;
    expect(dropJournalReplay(geometry)).toEqual({ kind: 'drop-range', start: j.start, length: j.length });
    expect(j.start).toBe(4096);
  });
});
