/**
 * Audit throughput: the model auditing a 256 MiB dm-integrity image against the raw read speed of the same
 * file (both through the page cache, warmed first, so the ratio measures the model and not the disk).
 */
import { randomBytes } from 'node:crypto';
import { openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditIntegrityImage } from '../model/integrity/audit.ts';
import { IntegrityDeviceModel } from '../model/integrity/device.ts';
import { buildIntegrityImage } from '../model/integrity/synthetic.ts';
import type { IntegrityHash } from '../model/integrity/tags.ts';

export interface AuditBench {
  hash: string;
  imageMiB: number;
  rawMBps: number;
  auditMBps: number;
  /** audit / raw: the goal is >= 0.5 for crc32c and GCM */
  ratio: number;
  disagreements: number;
}

const MiB = 1024 * 1024;

function readAll(path: string): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  let total = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, MiB, null)) > 0; ) total += n;
  } finally {
    closeSync(fd);
  }
  return total;
}

function best(fn: () => void, runs: number): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

/** Builds an image of `mib` MiB with every block written with random data, then times raw read and audit. */
export function benchAudit(dir: string, hash: IntegrityHash, mib = 256, runs = 3): AuditBench {
  const deviceSectors = (mib * MiB) / 512;
  const format = { deviceSectors, tagSize: 4, fixPadding: true, fixHmac: true, salt: randomBytes(16) };
  const probe = buildIntegrityImage({ format, hash, model: undefined });
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: probe.sb.providedDataSectors });
  const chunk = 8 * MiB;
  for (let s = 0; s < probe.sb.providedDataSectors; s += chunk / 512) {
    model.write(s, randomBytes(Math.min(chunk, (probe.sb.providedDataSectors - s) * 512)));
  }
  const { image } = buildIntegrityImage({ format, hash, model });
  const path = join(dir, `audit-${hash}.img`);
  writeFileSync(path, image);
  readAll(path); // warm the page cache
  const bytes = image.length;
  const raw = best(() => readAll(path), runs);
  let disagreements = -1;
  const audit = best(() => {
    disagreements = auditIntegrityImage(path, { hash, expected: model }).disagreementCount;
  }, runs);
  return {
    hash, imageMiB: bytes / MiB, rawMBps: bytes / MiB / raw, auditMBps: bytes / MiB / audit, ratio: raw / audit, disagreements,
  };
}
