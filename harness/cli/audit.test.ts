/**
 * `npm run audit` as a person runs it, on images the model builds: exit codes, the JSON report, and one-line
 * messages (no stack trace) for bad input.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import { IntegrityDeviceModel } from '../model/integrity/device.ts';
import { buildIntegrityImage, flipByte } from '../model/integrity/synthetic.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-audit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const audit = (args: string[]) =>
  execa('node', ['--import', 'tsx', join(repoRoot(), 'harness/cli/audit.ts'), ...args], { cwd: repoRoot(), reject: false });

let clean: string;
let corrupt: string;
const corruptedSector = 777;

beforeAll(() => {
  const format = { deviceSectors: 8192, tagSize: 4, fixPadding: true, fixHmac: true, salt: Buffer.alloc(16, 0x5a) };
  const probe = buildIntegrityImage({ format, hash: 'crc32c' });
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: probe.sb.providedDataSectors });
  model.write(0, Buffer.alloc(64 * 1024, 0xab));
  const img = buildIntegrityImage({ format, hash: 'crc32c', model });
  clean = join(dir, 'clean.img');
  writeFileSync(clean, img.image);
  const bad = Buffer.from(img.image);
  flipByte(bad, img.geometry.dataByteOffset(corruptedSector) + 10);
  corrupt = join(dir, 'corrupt.img');
  writeFileSync(corrupt, bad);
});

describe('npm run audit', () => {
  it('exits 0 and says clean for an image whose every tag verifies', async () => {
    const r = await audit([clean, '--hash', 'crc32c']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/superblock v\d+ .*tag 4 B/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('clean');
  }, 60_000);

  it('exits 1 and names the corrupted block, in text and in JSON', async () => {
    const text = await audit([corrupt, '--hash', 'crc32c']);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`DISAGREE tag-mismatch at sector ${corruptedSector} \\(block ${corruptedSector}\\)`));
    const json = await audit([corrupt, '--hash', 'crc32c', '--json']);
    expect(json.exitCode).toBe(1);
    const report = JSON.parse(json.stdout) as { disagreements: { sector: number; kind: string }[]; disagreementCount: number };
    expect(report.disagreementCount).toBe(1);
    expect(report.disagreements[0]).toMatchObject({ sector: corruptedSector, kind: 'tag-mismatch' });
  }, 60_000);

  it('hints at the wrong hash when nothing verifies', async () => {
    const r = await audit([clean, '--hash', 'sha256']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/hint: no block verifies; wrong --hash/);
  }, 60_000);

  it('exits 255 with one line naming the problem for bad input', async () => {
    const truncated = join(dir, 'truncated.img');
    writeFileSync(truncated, Buffer.alloc(1000));
    const cases: [string[], RegExp][] = [
      [[truncated, '--hash', 'crc32c'], /truncated/],
      [[join(dir, 'missing.img'), '--hash', 'crc32c'], /missing\.img.*cannot open image \(ENOENT\)/],
      [[clean], /--hash is required/],
      [[clean, '--hash', 'md5'], /md5/],
      [[clean, '--hash', 'crc32c', '--start', 'x'], /--start must be a non-negative integer/],
    ];
    for (const [args, msg] of cases) {
      const r = await audit(args);
      expect(r.exitCode, args.join(' ')).toBe(255);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const wrongMagic = join(dir, 'zeros.img');
    writeFileSync(wrongMagic, Buffer.alloc(1 << 20));
    const r = await audit([wrongMagic, '--hash', 'crc32c']);
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/magic/);
  }, 120_000);
});

describe('npm run audit on a LUKS2 --integrity image', () => {
  it('reads the header, takes the volume key from a file, reports the corrupted sectors in JSON and exits 1', async () => {
    const fixtures = join(repoRoot(), 'harness/model/luks2/fixtures');
    const image = join(dir, 'luks2-gcm.img');
    writeFileSync(image, gunzipSync(readFileSync(join(fixtures, 'gcm-512.img.gz'))));
    const keyFile = join(dir, 'luks2.key');
    writeFileSync(keyFile, Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'));
    const json = await audit([image, '--volume-key-file', keyFile, '--no-wipe', '--json']);
    expect(json.exitCode, json.stderr).toBe(1);
    const r = JSON.parse(json.stdout) as { luks2: { segmentOffset: number; cryptSpec: string }; disagreements: { sector: number; kind: string }[] };
    expect(r.luks2).toMatchObject({ segmentOffset: 16 << 20, cryptSpec: 'capi:gcm(aes)-random' });
    // the recipe (fixtures/gcm-512.yaml) flipped the auth tag of block 3 and the IV of block 2049
    expect(r.disagreements.map((d) => [d.kind, d.sector])).toEqual([['tag-mismatch', 3], ['tag-mismatch', 2049]]);
    const text = await audit([image, '--volume-key-file', keyFile, '--no-wipe']);
    expect(text.stdout).toMatch(/LUKS2 [0-9a-f-]+: data segment at 16777216, aes-gcm-random \+ aead \(capi:gcm\(aes\)-random\), 512-byte sectors/);
    const bad = await audit([image, '--volume-key-file', keyFile, '--hash', 'crc32c']);
    expect(bad.exitCode).toBe(255);
    expect(bad.stderr).toMatch(/--hash: a LUKS2 image's header gives these/);
  }, 120_000);
});
