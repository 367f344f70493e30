import { describe, expect, it } from 'vitest';
import { ModelInputError } from '../errors.ts';
import { planIntegrityFormat } from './format.ts';
import { journalLayout } from './geometry.ts';
import { SB_SECTORS } from './superblock.ts';

describe('the format plan with a separate metadata device', () => {
  // What Debian's 6.1 and 6.12 kernels wrote for integrity/004 and integrity/014 (32 MiB data, 8 MiB metadata)
  it('matches the superblocks real kernels wrote', () => {
    const common = { deviceSectors: 65536, metaDeviceSectors: 16384, tagSize: 4, internalHash: true, fixHmac: true };
    expect(planIntegrityFormat({ ...common, sectorsPerBlock: 8 })).toMatchObject({
      log2InterleaveSectors: 0, journalSections: 1, providedDataSectors: 65536, log2SectorsPerBlock: 3, log2BlocksPerBitmapBit: 12, flags: 16,
    });
    expect(planIntegrityFormat({ ...common, sectorsPerBlock: 1 })).toMatchObject({
      log2InterleaveSectors: 0, journalSections: 2, providedDataSectors: 65536, log2BlocksPerBitmapBit: 15,
    });
  });

  it('gives the journal only the sections that fit beside the tags, and no padding flag', () => {
    const section = journalLayout({ tagSize: 4, log2SectorsPerBlock: 0, haveJournalMac: false }).sectionSectors;
    // 65536 data sectors x 4-byte tags = 256 KiB = 512 sectors of tags in 64 KiB buffers; room for one section
    const plan = planIntegrityFormat({ deviceSectors: 65536, metaDeviceSectors: SB_SECTORS + section + 512 + 1, tagSize: 4, fixPadding: true });
    expect(plan.journalSections).toBe(1);
    expect(plan.flags & 8).toBe(0);
    // the data device is all data, in whole blocks
    expect(planIntegrityFormat({ deviceSectors: 65541, metaDeviceSectors: 16384, tagSize: 4, sectorsPerBlock: 8 }).providedDataSectors).toBe(65536);
  });

  it('refuses a metadata device too small for the tags', () => {
    expect(() => planIntegrityFormat({ deviceSectors: 1 << 20, metaDeviceSectors: 64, tagSize: 32 })).toThrow(ModelInputError);
  });
});
