import { describe, expect, it } from 'vitest';
import { corruptionOffset } from '../../model/integrity/corrupt.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { buildIntegrityImage, flipByte } from '../../model/integrity/synthetic.ts';
import { judgeImageAudit, judgeUnreadableImage } from './audit-judge.ts';

const salt = Buffer.from('a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5', 'hex');
/** 4 MiB disk, crc32c, small interleave so the data spans several areas. */
const format = { deviceSectors: 8192, tagSize: 4, interleaveSectors: 1024, fixPadding: true, fixHmac: true, salt };

/** A model of the device after two writes, and the image the kernel would have left of it. */
function written() {
  const { sb } = buildIntegrityImage({ format, hash: 'crc32c' });
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: sb.providedDataSectors });
  model.write(1000, Buffer.alloc(512 * 40, 0x5a));
  model.write(3000, Buffer.alloc(512, 0xee));
  const { image, geometry: geom } = buildIntegrityImage({ format, hash: 'crc32c', model });
  return { model, image, geom };
}

describe('judgeImageAudit', () => {
  it('agrees with the image the model describes', () => {
    const { model, image } = written();
    const j = judgeImageAudit(7, image, { hash: 'crc32c', expected: model }, new Set(), { record: 50 });
    expect(j.disagreements).toEqual([]);
    expect(j.owed).toBe(0);
    expect(j.report?.disagreementCount).toBe(0);
  });

  it('finds a doctored image: one data byte of block 3000 flipped under its tag', () => {
    const { model, image, geom } = written();
    flipByte(image, corruptionOffset(geom, 3000, 'data'));
    expect(judgeImageAudit(7, image, { hash: 'crc32c', expected: model }, new Set(), { record: 50 }).disagreements).toEqual([
      expect.objectContaining({ step: 7, kind: 'audit-tag-mismatch', block: 3000, sector: 3000, found: expect.stringMatching(/ \(image offset \d+\)$/) }),
    ]);
  });

  it('leaves a finding in a block the closed journal still holds to its replay', () => {
    const { model, image, geom } = written();
    flipByte(image, corruptionOffset(geom, 3000, 'data'));
    const j = judgeImageAudit(7, image, { hash: 'crc32c', expected: model }, new Set([3000]), { record: 50 });
    expect(j).toMatchObject({ disagreements: [], owed: 1 });
  });

  it('keeps at most `keep` findings as disagreements', () => {
    const { model, image, geom } = written();
    for (const b of [1000, 1001, 1002]) flipByte(image, corruptionOffset(geom, b, 'data'));
    expect(judgeImageAudit(7, image, { hash: 'crc32c', expected: model }, new Set(), { record: 50, keep: 2 }).disagreements.map((d) => d.block)).toEqual([1000, 1001]);
  });

  it('says when the model cannot read the image (its superblock magic gone)', () => {
    const { model, image } = written();
    image[0] = image[0]! ^ 0xff;
    const j = judgeImageAudit(7, image, { hash: 'crc32c', expected: model }, new Set(), { record: 50 });
    expect(j.report).toBeUndefined();
    expect(j.unreadable?.message).toBeTruthy();
    expect(judgeUnreadableImage(7, j.unreadable!.message, image.subarray(0, 4))).toMatchObject({ step: 7, kind: 'audit-unreadable', found: expect.stringContaining(`first bytes ${image.subarray(0, 4).toString('hex')}`) });
  });
});
