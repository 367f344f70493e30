/**
 * `npm run audit` on the committed LUKS2 disks (fixtures/, written by cryptsetup 2.6.1 + Debian 6.1): the
 * image is recognised by its header, which gives the data segment offset, cipher, sector size and iv_tweak;
 * only the volume key comes from the command line (hex or a raw key file). The disagreements are exactly
 * the blocks each recipe corrupted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../scenario/load.ts';
import { auditImage } from '../audit-image.ts';
import type { Luks2AuditReport } from './audit.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'ih-audit-luks2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fixture(name: string) {
  const scenario = await loadScenario(join(fixtures, `${name}.yaml`), fixtures);
  if (scenario.stack.type !== 'luks2' || scenario.stack.volumeKey === undefined) throw new Error(`${name}: recipe needs a luks2 stack with a volume key`);
  const image = join(dir, `${name}.img`);
  writeFileSync(image, gunzipSync(readFileSync(join(fixtures, `${name}.img.gz`))));
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, Buffer.from(scenario.stack.volumeKey, 'hex'));
  const spb = (scenario.stack.sectorSize ?? 512) / 512;
  const corruptedSectors = scenario.steps.flatMap((s) => (typeof s !== 'string' && 'corrupt' in s ? s.corrupt.blocks.map((b) => b * spb) : [])).sort((a, b) => a - b);
  return { image, key: scenario.stack.volumeKey, keyFile, corruptedSectors, stack: scenario.stack };
}

describe.each([
  ['gcm-512', 'capi:gcm(aes)-random', 512],
  ['hmac-plain64-4096', 'capi:authenc(hmac(sha256),xts(aes))-plain64', 4096],
] as const)('npm run audit on the LUKS2 disk %s', (name, spec, sectorSize) => {
  it('reads offsets and cipher from the header and finds exactly the corrupted sectors (--key, --no-wipe)', async () => {
    const f = await fixture(name);
    const r = auditImage(f.image, { key: f.key, wipe: false }) as Luks2AuditReport;
    expect(r.luks2).toMatchObject({ segmentOffset: 16 << 20, cryptSpec: spec, sectorSize, ivTweak: 0 });
    expect(r.geometry.startSector).toBe((16 << 20) / 512);
    expect(r.disagreements.map((d) => [d.kind, d.sector])).toEqual(f.corruptedSectors.map((s) => ['tag-mismatch', s]));
    expect(r.blocks.invalid).toBe(f.corruptedSectors.length);
    expect(r.blocks.valid).toBeGreaterThan(0);
  });

  it('takes the key as a raw file too, and without --no-wipe counts every never-written block', async () => {
    const f = await fixture(name);
    const fromFile = auditImage(f.image, { volumeKeyFile: f.keyFile, wipe: false });
    expect(fromFile.disagreements.map((d) => d.sector)).toEqual(f.corruptedSectors);
    const wiped = auditImage(f.image, { volumeKeyFile: f.keyFile, maxDisagreements: 3 });
    expect(wiped.disagreementCount).toBe(wiped.blocks.blank + f.corruptedSectors.length);
  });

  it('with another volume key of the right size, nothing verifies', async () => {
    const f = await fixture(name);
    const other = Buffer.from(f.key, 'hex');
    other[other.length - 1]! ^= 1;
    expect(auditImage(f.image, { key: other.toString('hex'), wipe: false }).blocks.valid).toBe(0);
  });

  it('refuses what the header decides, a missing or ill-sized key, and two keys', async () => {
    const f = await fixture(name);
    expect(() => auditImage(f.image, { key: f.key, hash: 'crc32c' })).toThrow(/--hash: a LUKS2 image's header gives these/);
    expect(() => auditImage(f.image, { key: f.key, cipher: spec, start: 32768 })).toThrow(/--cipher, --start: a LUKS2 image's header/);
    expect(() => auditImage(f.image, {})).toThrow(/needs its volume key: --key <hex> or --volume-key-file/);
    expect(() => auditImage(f.image, { key: f.key.slice(2) })).toThrow(/volume key is \d+ bytes, the header's key slots hold \d+-byte keys/);
    expect(() => auditImage(f.image, { key: f.key, volumeKeyFile: f.keyFile })).toThrow(/exclusive/);
    expect(() => auditImage(f.image, { volumeKeyFile: join(dir, 'missing.key') })).toThrow(/missing\.key: cannot read the volume key \(ENOENT\)/);
    expect(() => auditImage(f.image, { key: f.key, allowDiscards: true })).toThrow(/refuses discards/);
  });
});

it('a LUKS2 image cut after its header is bad input, not disagreements', async () => {
  const f = await fixture('gcm-512');
  const cut = join(dir, 'cut.img');
  writeFileSync(cut, readFileSync(f.image).subarray(0, (16 << 20) + 4096));
  expect(() => auditImage(cut, { key: f.key })).toThrow(/truncated/);
  const noHeader = Buffer.from(readFileSync(f.image));
  noHeader.fill(0, 100, 200); // inside the binary header: its checksum fails (the secondary copy is still good)
  writeFileSync(cut, noHeader);
  expect(auditImage(cut, { key: f.key, wipe: false }).disagreements.map((d) => d.sector)).toEqual(f.corruptedSectors);
  noHeader.fill(0, 16384 + 100, 16384 + 200);
  writeFileSync(cut, noHeader);
  expect(() => auditImage(cut, { key: f.key })).toThrow(/no valid LUKS2 header/);
});
