/**
 * The dm-integrity superblock `cryptsetup luksFormat --integrity` leaves at the data offset: cryptsetup
 * (lib/integrity/integrity.c INTEGRITY_format()) loads a table with no journal size, interleave or
 * padding of its own except fix_padding, so the kernel's defaults decide, and the kernel sizes the
 * journal from the whole disk, not from the part after the offset (dm_integrity_ctr(): journal_sectors =
 * min(131072, data_device_sectors >> 7)). Seen on a 48 MiB disk: 8 journal sections (journal_sectors:704
 * in the table cryptsetup loads on open) and 61240 provided sectors with 28-byte tags.
 */
import { planIntegrityFormat } from '../integrity/format.ts';
import type { IntegritySuperblockFields } from '../integrity/superblock.ts';
import { LUKS2_DEFAULT_DATA_OFFSET } from './segment.ts';

export function planLuks2Integrity(p: { diskBytes: number; tagSize: number; sectorSize: number; dataOffset?: number; fixPadding?: boolean }): IntegritySuperblockFields {
  return planIntegrityFormat({
    deviceSectors: p.diskBytes / 512, startSector: (p.dataOffset ?? LUKS2_DEFAULT_DATA_OFFSET) / 512,
    tagSize: p.tagSize, sectorsPerBlock: p.sectorSize / 512, fixPadding: p.fixPadding ?? true,
  });
}
