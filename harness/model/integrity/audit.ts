/**
 * Audits a raw dm-integrity image (read after the device was deactivated, so the journal is drained):
 * every block's tag against its data, and, given the device's history, every block against what the
 * model says it must be. This is the runner's entry point: auditIntegrityImage(image, params).
 *
 * What never-written blocks look like (see device.ts): after a wiping format every block was written
 * once with zeros, so its data is zero and its tag verifies ("valid"); after --no-wipe the kernel never
 * touched them, so on a fresh zeroed image data and tag are both zero ("blank"). A block whose tag is all
 * DISCARD_FILLER (0xf6) was discarded ("filler"), which only an allow_discards device accepts.
 */
import { ModelInputError } from '../errors.ts';
import { openImage, type ImageSource } from '../image-source.ts';
import type { IntegrityDeviceModel } from './device.ts';
import { integrityGeometry, type IntegrityGeometry } from './geometry.ts';
import { parseIntegritySuperblock, SB_BYTES, superblockVersionProblems, type IntegritySuperblock } from './superblock.ts';
import { isDiscardFiller, type IntegrityHash } from './tags.ts';
import { internalHashVerifier, type BlockVerifier } from './verifier.ts';

export type DisagreementKind =
  | 'superblock' // version byte inconsistent with flags (format drift)
  | 'tag-mismatch' // the block must verify and does not
  | 'unexpected-valid' // a corrupted block (or one the kernel never wrote) verifies
  | 'data-mismatch' // the block verifies but does not hold the bytes the model expects
  | 'unexpected-filler' // a discard filler tag where no discard happened or discards are off
  | 'missing-filler' // a discarded block without the filler tag
  | 'unexpected-content'; // a block the kernel never wrote (--no-wipe) is not blank

export interface Disagreement {
  /** logical 512-byte sector where the block starts; null for the superblock */
  sector: number | null;
  block: number | null;
  kind: DisagreementKind;
  /** byte offset in the image (the meta image for tags when there is one) */
  offset: number;
  expected: string;
  found: string;
}

export type BlockClass = 'valid' | 'filler' | 'blank' | 'invalid';

export interface IntegrityAuditParams {
  /** internal_hash of the dm-integrity device; omit when a verifier is given (dm-crypt AEAD) */
  hash?: IntegrityHash;
  key?: Buffer;
  /** a custom per-block check (dm-crypt AEAD); overrides hash/key */
  verifier?: (sb: IntegritySuperblock, geom: IntegrityGeometry) => BlockVerifier;
  /** the target's offset on the device in 512-byte sectors (LUKS2: the data segment offset) */
  startSector?: number;
  /** separate metadata image (superblock, journal and tags live there) */
  meta?: Buffer | string;
  /** the device was opened with allow_discards: filler tags are acceptable */
  allowDiscards?: boolean;
  /** never-written blocks were wiped at format (default true; ignored when `expected` is given) */
  wiped?: boolean;
  /** the device's history: every block is judged against it */
  expected?: IntegrityDeviceModel;
  /** stop recording (not counting) disagreements after this many; default 1000 */
  maxDisagreements?: number;
}

export interface IntegrityAuditReport {
  image: string;
  meta?: string;
  superblock: Omit<IntegritySuperblock, 'salt'> & { salt: string };
  geometry: {
    startSector: number;
    sectorsPerBlock: number;
    tagSize: number;
    interleaveSectors: number;
    initialSectors: number;
    metadataRunSectors: number;
    journalSectionSectors: number;
    providedDataSectors: number;
    blocks: number;
  };
  areas: Array<{ kind: string; device: 'data' | 'meta'; count: number; bytes: number }>;
  blocks: Record<BlockClass, number> & { total: number };
  disagreementCount: number;
  disagreements: Disagreement[];
}

const CHUNK_BYTES = 1 << 20;

/** A run of blocks whose data (and tags) are contiguous in the image. */
interface RunJob {
  ls0: number;
  n: number;
  dataAt: number;
  tagAt: number;
}

export function auditIntegrityImage(image: Buffer | string, p: IntegrityAuditParams): IntegrityAuditReport {
  const data = openImage(image);
  const meta = p.meta !== undefined ? openImage(p.meta) : undefined;
  try {
    return runAudit(data, meta, p);
  } finally {
    data.close();
    meta?.close();
  }
}

function runAudit(data: ImageSource, meta: ImageSource | undefined, p: IntegrityAuditParams): IntegrityAuditReport {
  const start = p.startSector ?? 0;
  const sbSource = meta ?? data;
  if (sbSource.length < start * 512 + SB_BYTES) {
    throw new ModelInputError(
      `image is truncated: ${sbSource.length} bytes, the superblock at sector ${start} needs ${start * 512 + SB_BYTES}`,
      { source: sbSource.name },
    );
  }
  const sb = parseIntegritySuperblock(Buffer.from(sbSource.read(start * 512, SB_BYTES)), sbSource.name);
  const geom = integrityGeometry(sb, { startSector: start, separateMetadata: meta !== undefined });
  if (geom.inline) throw new ModelInputError('inline-mode superblock: tags are in the lower device, not in this image', { source: sbSource.name });
  if (data.length < geom.requiredDataBytes) {
    throw new ModelInputError(`image is truncated: ${data.length} bytes, the geometry needs ${geom.requiredDataBytes}`, { source: data.name });
  }
  if (meta && meta.length < geom.requiredMetaBytes) {
    throw new ModelInputError(`metadata image is truncated: ${meta.length} bytes, the geometry needs ${geom.requiredMetaBytes}`, { source: meta.name });
  }
  const expected = p.expected;
  if (expected && (expected.providedDataSectors !== sb.providedDataSectors || expected.sectorsPerBlock !== geom.sectorsPerBlock)) {
    throw new ModelInputError(
      `expected model has ${expected.providedDataSectors} sectors in ${expected.sectorsPerBlock}-sector blocks, the image has ${sb.providedDataSectors} in ${geom.sectorsPerBlock}-sector blocks`,
      { source: data.name },
    );
  }
  const verifier = p.verifier
    ? p.verifier(sb, geom)
    : internalHashVerifier({ hash: requireHash(p.hash), key: p.key, salt: sb.fixedHmac ? sb.salt : undefined, tagSize: sb.tagSize, blockSize: geom.blockSize });
  const allowDiscards = expected?.allowDiscards ?? p.allowDiscards ?? false;
  const wiped = expected?.wiped ?? p.wiped ?? true;
  const max = p.maxDisagreements ?? 1000;

  const counts: Record<BlockClass, number> = { valid: 0, filler: 0, blank: 0, invalid: 0 };
  const disagreements: Disagreement[] = [];
  let disagreementCount = 0;
  const report = (d: Disagreement) => {
    disagreementCount++;
    if (disagreements.length < max) disagreements.push(d);
  };
  for (const problem of superblockVersionProblems(sb)) {
    report({ sector: null, block: null, kind: 'superblock', offset: start * 512 + 8, expected: 'version consistent with flags', found: problem });
  }

  const tagSource = meta ?? data;
  const spb = geom.sectorsPerBlock;
  const bs = geom.blockSize;
  const ts = sb.tagSize;
  const blocksPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / bs));
  const { data: dataScratch, tags: tagScratch } = verifier.runBuffers?.(blocksPerChunk) ?? { data: Buffer.allocUnsafe(blocksPerChunk * bs), tags: Buffer.allocUnsafe(blocksPerChunk * ts) };
  const zeroBlock = Buffer.alloc(bs);
  const zeroChunk = Buffer.alloc(blocksPerChunk * bs);
  const zeroTag = Buffer.alloc(ts);
  const at = (ls: number, i: number, dataAt: number, tagAt: number): BlockAt => ({ sector: ls, block: ls / spb, dataOffset: dataAt + i * bs, tagOffset: tagAt + i * ts });
  /** a run whose blocks all verify: alone, nothing to say; against the model, compare runs of expected bytes */
  const judgeVerifiedRun = (j: RunJob, plain: Buffer, dataBuf: Buffer, tagBuf: Buffer) => {
    counts.valid += j.n;
    if (!expected) return;
    judgeValidRun(expected, j.ls0, j.n, plain, zeroChunk, (i) => {
      const ls = j.ls0 + i * spb;
      judgeAgainstModel(expected, 'valid', dataBuf.subarray(i * bs, (i + 1) * bs), tagBuf.subarray(i * ts, (i + 1) * ts), at(ls, i, j.dataAt, j.tagAt), verifier, report);
    });
  };
  const judgeBlocks = (j: RunJob, dataBuf: Buffer, tagBuf: Buffer) => {
    for (let i = 0; i < j.n; i++) {
      const ls = j.ls0 + i * spb;
      const d = dataBuf.subarray(i * bs, (i + 1) * bs);
      const t = tagBuf.subarray(i * ts, (i + 1) * ts);
      const cls: BlockClass = verifier.verify(ls, d, t)
        ? 'valid'
        : isDiscardFiller(t)
          ? 'filler'
          : t.equals(zeroTag) && d.equals(zeroBlock)
            ? 'blank'
            : 'invalid';
      counts[cls]++;
      if (expected) judgeAgainstModel(expected, cls, d, t, at(ls, i, j.dataAt, j.tagAt), verifier, report);
      else judgeAlone(cls, allowDiscards, wiped, d, t, at(ls, i, j.dataAt, j.tagAt), verifier, report);
    }
  };
  for (const j of runJobs(sb, geom, blocksPerChunk)) {
    const dataBuf = data.read(j.dataAt, j.n * bs, dataScratch);
    const tagBuf = tagSource.read(j.tagAt, j.n * ts, tagScratch);
    if (verifier.verifyRun?.(j.ls0, dataBuf, tagBuf, j.n)) {
      judgeVerifiedRun(j, verifier.plaintextRun ? verifier.plaintextRun(j.ls0, dataBuf, tagBuf, j.n) : dataBuf, dataBuf, tagBuf);
    } else {
      judgeBlocks(j, dataBuf, tagBuf);
    }
  }

  const areaSummary = new Map<string, { kind: string; device: 'data' | 'meta'; count: number; bytes: number }>();
  for (const a of geom.areas()) {
    const key = `${a.device}:${a.kind}`;
    const s = areaSummary.get(key) ?? { kind: a.kind, device: a.device, count: 0, bytes: 0 };
    s.count++;
    s.bytes += a.length;
    areaSummary.set(key, s);
  }
  return {
    image: data.name,
    meta: meta?.name,
    superblock: { ...sb, salt: sb.salt.toString('hex') },
    geometry: {
      startSector: start,
      sectorsPerBlock: spb,
      tagSize: ts,
      interleaveSectors: geom.interleaveSectors,
      initialSectors: geom.initialSectors,
      metadataRunSectors: geom.metadataRunSectors,
      journalSectionSectors: geom.journalSectionSectors,
      providedDataSectors: sb.providedDataSectors,
      blocks: geom.blocks,
    },
    areas: [...areaSummary.values()],
    blocks: { total: geom.blocks, ...counts },
    disagreementCount,
    disagreements,
  };
}

/** Runs of blocks whose data (and tags) are contiguous, in image order: one interleave area at a time, cut in chunks. */
function* runJobs(sb: IntegritySuperblock, geom: IntegrityGeometry, blocksPerChunk: number): Generator<RunJob> {
  const spb = geom.sectorsPerBlock;
  const runSectors = geom.separateMetadata ? sb.providedDataSectors : geom.interleaveSectors;
  for (let runStart = 0; runStart < sb.providedDataSectors; runStart += runSectors) {
    const runEnd = Math.min(sb.providedDataSectors, runStart + runSectors);
    for (let ls0 = runStart; ls0 < runEnd; ls0 += blocksPerChunk * spb) {
      yield { ls0, n: Math.min(blocksPerChunk, (runEnd - ls0) / spb), dataAt: geom.dataByteOffset(ls0), tagAt: geom.tagByteOffset(ls0) };
    }
  }
}

interface BlockAt {
  sector: number;
  block: number;
  dataOffset: number;
  tagOffset: number;
}
type Report = (d: Disagreement) => void;

function judgeAlone(
  cls: BlockClass,
  allowDiscards: boolean,
  wiped: boolean,
  d: Buffer,
  t: Buffer,
  at: BlockAt,
  v: BlockVerifier,
  report: Report,
): void {
  if (cls === 'valid' || (cls === 'filler' && allowDiscards) || (cls === 'blank' && !wiped)) return;
  if (cls === 'filler') {
    report({ sector: at.sector, block: at.block, kind: 'unexpected-filler', offset: at.tagOffset, expected: 'a valid tag (device has no allow_discards)', found: hex(t) });
    return;
  }
  report(tagMismatch(at, d, t, v));
}

function judgeAgainstModel(
  m: IntegrityDeviceModel,
  cls: BlockClass,
  d: Buffer,
  t: Buffer,
  at: BlockAt,
  v: BlockVerifier,
  report: Report,
): void {
  const e = m.blockExpectation(at.block);
  const acceptedByKernel = cls === 'valid' || (cls === 'filler' && m.allowDiscards);
  if (e.corrupted) {
    if (acceptedByKernel) {
      report({ sector: at.sector, block: at.block, kind: 'unexpected-valid', offset: e.corruptedWhere === 'tag' ? at.tagOffset : at.dataOffset, expected: `corrupted ${e.corruptedWhere} (must fail)`, found: cls === 'filler' ? 'discard filler tag' : 'tag verifies' });
    }
    return;
  }
  switch (e.state.kind) {
    case 'discarded':
      if (cls !== 'filler') report({ sector: at.sector, block: at.block, kind: 'missing-filler', offset: at.tagOffset, expected: 'f6'.repeat(t.length), found: hex(t) });
      return;
    case 'unwritten':
      if (!m.wiped) {
        if (cls !== 'blank') report({ sector: at.sector, block: at.block, kind: 'unexpected-content', offset: at.tagOffset, expected: 'zero data and zero tag (never written, --no-wipe)', found: `${cls} tag ${hex(t)}` });
        return;
      }
      return judgeContent(zeroLike(d), cls, d, t, at, v, report);
    case 'written':
      return judgeContent(e.state.data, cls, d, t, at, v, report);
  }
}

/**
 * A run of `n` blocks that all verify, judged against the model at memcmp speed: runs of written blocks
 * whose expected bytes sit back to back in one of the model's buffers are compared at once, as are runs
 * of wiped never-written blocks against zeros. Anything else (corrupted, discarded, --no-wipe blank), and
 * every block of a run that differs, goes to `slow`, the block-by-block judge.
 */
function judgeValidRun(m: IntegrityDeviceModel, ls0: number, n: number, plain: Buffer, zeros: Buffer, slow: (i: number) => void): void {
  const spb = m.sectorsPerBlock;
  const bs = m.blockSize;
  const b0 = ls0 / spb;
  let i = 0;
  while (i < n) {
    const st = m.stateOf(b0 + i);
    if (m.corruptionOf(b0 + i) === undefined && st?.kind === 'written') {
      // blocks of one write, back to back (state fields only: a typed array's .buffer costs ~30 ns a block)
      const write = st.write;
      let end = st.at + bs;
      let j = i + 1;
      for (; j < n; j++) {
        const s2 = m.stateOf(b0 + j);
        if (s2?.kind !== 'written' || s2.write !== write || s2.at !== end || m.corruptionOf(b0 + j) !== undefined) break;
        end += bs;
      }
      const want = write.subarray(st.at, end);
      if (want.compare(plain, i * bs, j * bs) !== 0) for (let k = i; k < j; k++) slow(k);
      i = j;
    } else if (st === undefined && m.wiped && m.corruptionOf(b0 + i) === undefined) {
      let j = i + 1;
      while (j < n && m.stateOf(b0 + j) === undefined && m.corruptionOf(b0 + j) === undefined) j++;
      if (zeros.compare(plain, i * bs, j * bs, 0, (j - i) * bs) !== 0) for (let k = i; k < j; k++) slow(k);
      i = j;
    } else {
      slow(i);
      i++;
    }
  }
}

function judgeContent(want: Buffer, cls: BlockClass, d: Buffer, t: Buffer, at: BlockAt, v: BlockVerifier, report: Report): void {
  if (cls === 'filler') {
    report({ sector: at.sector, block: at.block, kind: 'unexpected-filler', offset: at.tagOffset, expected: 'a valid tag (block was never discarded)', found: hex(t) });
    return;
  }
  if (cls !== 'valid') {
    report(tagMismatch(at, d, t, v));
    return;
  }
  const got = v.plaintext(at.sector, d, t);
  if (!got.equals(want)) {
    let i = 0;
    while (i < got.length && i < want.length && got[i] === want[i]) i++;
    report({
      sector: at.sector,
      block: at.block,
      kind: 'data-mismatch',
      offset: at.dataOffset + i,
      expected: hex(want.subarray(i, i + 16)),
      found: hex(got.subarray(i, i + 16)),
    });
  }
}

function tagMismatch(at: BlockAt, d: Buffer, t: Buffer, v: BlockVerifier): Disagreement {
  const want = v.expectedTag(at.sector, d);
  return {
    sector: at.sector,
    block: at.block,
    kind: 'tag-mismatch',
    offset: at.tagOffset,
    expected: want ? hex(want) : 'a tuple that authenticates',
    found: hex(t),
  };
}

const zeroCache = new Map<number, Buffer>();
function zeroLike(b: Buffer): Buffer {
  let z = zeroCache.get(b.length);
  if (!z) zeroCache.set(b.length, (z = Buffer.alloc(b.length)));
  return z;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function requireHash(h: IntegrityHash | undefined): IntegrityHash {
  if (!h) throw new ModelInputError('no integrity hash given (--hash ALG, or --cipher for a dm-crypt AEAD stack)');
  return h;
}
