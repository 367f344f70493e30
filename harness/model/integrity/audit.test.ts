import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelInputError } from '../errors.ts';
import { auditIntegrityImage } from './audit.ts';
import { corruptionOffset, corruptionTarget } from './corrupt.ts';
import { IntegrityDeviceModel } from './device.ts';
import { buildIntegrityImage, flipByte } from './synthetic.ts';
import { SB_FLAG } from './superblock.ts';

const salt = Buffer.from('a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5', 'hex');
/** 4 MiB disk, crc32c, small interleave so the data spans several areas. */
const format = { deviceSectors: 8192, tagSize: 4, interleaveSectors: 1024, fixPadding: true, fixHmac: true, salt };

function history(provided: number, opts: { allowDiscards?: boolean; wiped?: boolean } = {}) {
  const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: provided, ...opts });
  const bytes = Buffer.alloc(512 * 40);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  m.write(1000, bytes); // crosses the interleave boundary at 1024
  m.write(3000, Buffer.alloc(512, 0xee));
  return m;
}

function provided() {
  return buildIntegrityImage({ format, hash: 'crc32c' }).sb.providedDataSectors;
}

describe('auditIntegrityImage', () => {
  it('finds a freshly wiped image clean, with every tag salted (fix_hmac)', () => {
    const { image, sb } = buildIntegrityImage({ format, hash: 'crc32c' });
    expect(sb.flags & SB_FLAG.FIXED_HMAC).toBeTruthy();
    const r = auditIntegrityImage(image, { hash: 'crc32c' });
    expect(r.disagreementCount).toBe(0);
    expect(r.blocks.valid).toBe(sb.providedDataSectors);
    expect(r.areas.find((a) => a.kind === 'data')!.bytes).toBe(sb.providedDataSectors * 512);
  });

  it('agrees with the model on a written history, and by path as well as by buffer', () => {
    const m = history(provided());
    const { image } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
    expect(auditIntegrityImage(image, { hash: 'crc32c', expected: m }).disagreementCount).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'ih-audit-'));
    const path = join(dir, 'disk.img');
    writeFileSync(path, image);
    try {
      const byPath = auditIntegrityImage(path, { hash: 'crc32c', expected: m });
      expect(byPath.disagreementCount).toBe(0);
      expect(byPath.image).toBe(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a data mismatch when the disk holds other bytes under a valid tag', () => {
    const m = history(provided());
    const { image } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
    m.write(3000, Buffer.alloc(512, 0xdd)); // the model moves on; the disk did not
    const r = auditIntegrityImage(image, { hash: 'crc32c', expected: m });
    expect(r.disagreements).toEqual([
      expect.objectContaining({ kind: 'data-mismatch', sector: 3000, block: 3000, expected: 'dd'.repeat(16), found: 'ee'.repeat(16) }),
    ]);
  });

  it('expects host corruptions at corruptionOffset to fail, and reports them when the model was not told', () => {
    for (const where of ['data', 'tag'] as const) {
      const m = history(provided());
      const { image, geometry } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
      flipByte(image, corruptionOffset(geometry, 1030, where, 2));
      const untold = auditIntegrityImage(image, { hash: 'crc32c', expected: m });
      expect(untold.disagreements).toEqual([expect.objectContaining({ kind: 'tag-mismatch', sector: 1030 })]);
      m.corrupt(1030, where);
      expect(auditIntegrityImage(image, { hash: 'crc32c', expected: m }).disagreementCount).toBe(0);
    }
  });

  it('catches a host that flips the wrong offset (a layout formula without the metadata runs)', () => {
    const m = history(provided());
    const { image, geometry } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
    const block = 1030; // area 1: the naive start + initial + sector formula lands 2 metadata runs early
    const naive = (geometry.startSector + geometry.initialSectors + block) * 512;
    expect(naive).not.toBe(corruptionOffset(geometry, block, 'data'));
    flipByte(image, naive);
    m.corrupt(block);
    const r = auditIntegrityImage(image, { hash: 'crc32c', expected: m });
    const kinds = r.disagreements.map((d) => `${d.kind}@${d.sector}`);
    expect(kinds).toContain(`unexpected-valid@${block}`);
    expect(r.disagreements.some((d) => d.kind === 'tag-mismatch' && d.sector !== block)).toBe(true);
  });

  it('judges discards: filler tags accepted only with allow_discards, required after a discard', () => {
    const m = history(provided(), { allowDiscards: true });
    m.discard(1000, 8);
    const { image } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
    expect(auditIntegrityImage(image, { hash: 'crc32c', expected: m }).disagreementCount).toBe(0);
    expect(auditIntegrityImage(image, { hash: 'crc32c', allowDiscards: true }).disagreementCount).toBe(0);
    const strict = auditIntegrityImage(image, { hash: 'crc32c' });
    expect(strict.disagreementCount).toBe(8);
    expect(strict.disagreements[0]!.kind).toBe('unexpected-filler');
    const noDiscard = history(provided(), { allowDiscards: true });
    expect(auditIntegrityImage(image, { hash: 'crc32c', expected: noDiscard }).disagreements[0]!.kind).toBe('unexpected-filler');
  });

  it('treats never-written blocks after --no-wipe as blank', () => {
    const m = history(provided(), { wiped: false });
    const { image } = buildIntegrityImage({ format, hash: 'crc32c', model: m });
    const r = auditIntegrityImage(image, { hash: 'crc32c', expected: m });
    expect(r.disagreementCount).toBe(0);
    expect(r.blocks.blank).toBe(provided() - 41);
    expect(auditIntegrityImage(image, { hash: 'crc32c', wiped: false }).disagreementCount).toBe(0);
    expect(auditIntegrityImage(image, { hash: 'crc32c' }).disagreementCount).toBe(provided() - 41);
  });

  it('audits sha256, hmac-sha256 and 4096-byte blocks', () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const f = { ...format, tagSize: 32, sectorsPerBlock: 8 };
    const { image, sb } = buildIntegrityImage({ format: f, hash: 'hmac-sha256', key });
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: sb.providedDataSectors });
    expect(auditIntegrityImage(image, { hash: 'hmac-sha256', key, expected: m }).disagreementCount).toBe(0);
    const wrongKey = auditIntegrityImage(image, { hash: 'hmac-sha256', key: Buffer.alloc(16), maxDisagreements: 3 });
    expect(wrongKey.disagreementCount).toBe(sb.providedDataSectors / 8);
    expect(wrongKey.disagreements).toHaveLength(3);
    const sha = buildIntegrityImage({ format: { ...f, tagSize: 20 }, hash: 'sha256' });
    expect(auditIntegrityImage(sha.image, { hash: 'sha256' }).disagreementCount).toBe(0);
  });

  it('audits a separate metadata device', () => {
    const superblock = {
      version: 2, log2InterleaveSectors: 0, tagSize: 4, journalSections: 2, providedDataSectors: 2048,
      flags: 0, log2SectorsPerBlock: 0, log2BlocksPerBitmapBit: 15, recalcSector: 0, salt: Buffer.alloc(16),
    };
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 2048 });
    m.write(5, Buffer.alloc(512, 1));
    const { image, meta, geometry } = buildIntegrityImage({ superblock, separateMetadata: true, hash: 'crc32', model: m });
    expect(auditIntegrityImage(image, { hash: 'crc32', meta, expected: m }).disagreementCount).toBe(0);
    const t = corruptionTarget(geometry, 5, 'tag');
    expect(t.image).toBe('meta');
    flipByte(meta!, t.offset);
    m.corrupt(5, 'tag');
    expect(auditIntegrityImage(image, { hash: 'crc32', meta, expected: m }).disagreementCount).toBe(0);
  });

  it('rejects truncated images, wrong magic and missing parameters with ModelInputError', () => {
    const { image } = buildIntegrityImage({ format, hash: 'crc32c' });
    expect(() => auditIntegrityImage(image.subarray(0, image.length / 2), { hash: 'crc32c' })).toThrow(/truncated/);
    expect(() => auditIntegrityImage(Buffer.alloc(8192), { hash: 'crc32c' })).toThrow(/not a dm-integrity superblock/);
    expect(() => auditIntegrityImage(image, {})).toThrow(ModelInputError);
    expect(() => auditIntegrityImage('/nonexistent/disk.img', { hash: 'crc32c' })).toThrow(/\/nonexistent\/disk\.img: cannot open image/);
  });
});
