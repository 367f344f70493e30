/** The host puts a scenario's write payload on the payload image, and the index it returns finds it there. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../scenario/load.ts';
import { payloadParts } from '../../scenario/payload.ts';
import { createImage, planTransfers, readAt } from './disks.ts';
import { parseDiskList, writePayload } from './guest-disks.ts';

const scenarios = resolve(import.meta.dirname, '../../../scenarios');
const dir = mkdtempSync(join(tmpdir(), 'ih-guest-disks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writePayload', () => {
  it('writes every write step at its planned offset and indexes the bytes it wrote', async () => {
    const s = await loadScenario(join(scenarios, 'integrity/011-fua-flush-heal.yaml'), scenarios);
    const plan = planTransfers(s);
    const image = await createImage(dir, 'payload', plan.payloadSize);
    const index = await writePayload(s, plan, image);
    const parts = payloadParts(s, plan.offsets);
    expect(parts).toHaveLength(2);
    for (const { offset, bytes } of parts) {
      expect(await readAt(image, offset, bytes.length)).toEqual(bytes);
      const block = bytes.subarray(4096, 4608);
      expect(index.locate(block)).toBe(offset + 4096);
    }
    expect(index.locate(Buffer.alloc(512, 0xa5))).toBeUndefined();
  });
});

describe('parseDiskList', () => {
  it('maps each serial to its device, virtio and NVMe alike, and skips a disk with no serial', () => {
    const m = parseDiskList('vda ih-data\nvdb ih-out\nnvme0n1 ih-meta\nvdc\n');
    expect([...m]).toEqual([['ih-data', '/dev/vda'], ['ih-out', '/dev/vdb'], ['ih-meta', '/dev/nvme0n1']]);
  });
});
