/**
 * The bytes `ih-io race` writes (vm/agent/io-race.c race_fill, its twin): each 512-byte sector names the race's
 * tag, the writer, the writer's sequence number and the sector's own address, then 480 bytes of xorshift32
 * seeded from those. So a sector read back names the one write it came from, and a sector written to the
 * wrong place, or half of one write and half of another, names none.
 */
export const RACE_SECTOR = 512;
const MAGIC = Buffer.from('ih-race:', 'latin1');

export function raceSector(tag: number, writer: number, seq: number, lba: number): Buffer {
  const s = Buffer.alloc(RACE_SECTOR);
  MAGIC.copy(s, 0);
  s.writeUInt32LE(tag >>> 0, 8);
  s.writeUInt32LE(writer >>> 0, 12);
  s.writeUInt32LE(seq >>> 0, 16);
  const lo = lba >>> 0;
  const hi = Math.floor(lba / 2 ** 32) >>> 0;
  s.writeUInt32LE(lo, 24);
  s.writeUInt32LE(hi, 28);
  let x = (Math.imul(tag, 0x9e3779b1) ^ Math.imul(writer, 0x85ebca77) ^ Math.imul(seq, 0xc2b2ae3d) ^ Math.imul(lo, 0x27d4eb2f) ^ Math.imul(hi, 0x165667b1)) | 1;
  for (let i = 32; i < RACE_SECTOR; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s.writeUInt32LE(x >>> 0, i);
  }
  return s;
}

/** `sectors` sectors of one race write from 512-byte sector `lba` on. */
export function raceWriteData(tag: number, writer: number, seq: number, lba: number, sectors: number): Buffer {
  return Buffer.concat(Array.from({ length: sectors }, (_, i) => raceSector(tag, writer, seq, lba + i)));
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

/** FNV-1a 64 as 16 hex digits: how ih-io race names a sector that is no write of the race. */
export function sectorHash(b: Buffer): string {
  let h = FNV_OFFSET;
  for (const byte of b) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK;
  return h.toString(16).padStart(16, '0');
}
