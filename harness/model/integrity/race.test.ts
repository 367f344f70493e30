import { describe, expect, it } from 'vitest';
import { IntegrityDeviceModel } from './device.ts';
import { adoptRaceFinal, judgeRace, type RaceInput, type RaceIo, type SectorVersion } from './race.ts';
import { raceSector, raceWriteData, sectorHash } from './race-payload.ts';
import { FIRST, of, pre, PRE, r, SECTORS, SPB, w } from './race-fixture.ts';

/**
 * Writer 1 writes blocks 0-1 (10-20 us), writer 2 block 1 (15-30: overlapping 1.0) and block 2 (40-50, after
 * 1.0 completed). Writer 3 reads block 1 during both writes, blocks 0-3 after them.
 */
function clean(): RaceInput {
  return {
    firstSector: FIRST, sectors: SECTORS, sectorsPerBlock: SPB, preHashes: PRE,
    obs: {
      initial: { sector: FIRST, sectors: SECTORS, t0: 1, t1: 2, errno: 0, versions: PRE.map((hash) => ({ kind: 'other', hash })) },
      writes: [w(1, 0, 0, 2, 10, 20), w(2, 0, 1, 1, 15, 30), w(2, 1, 2, 1, 40, 50)],
      reads: [
        r(3, 0, 1, 12, 18, pre(SPB)),
        r(3, 1, 1, 16, 25, of(2, 0, SPB)),
        r(3, 2, 0, 60, 70, [...of(1, 0, SPB), ...of(2, 0, SPB), ...of(2, 1, SPB), ...pre(SPB)]),
      ],
      final: { sector: FIRST, sectors: SECTORS, t0: 100, t1: 110, errno: 0, versions: [...of(1, 0, SPB), ...of(1, 0, SPB), ...of(2, 1, SPB), ...pre(SPB)] },
    },
  };
}

describe('judgeRace', () => {
  it('accepts every version the timing allows and adopts the final read', () => {
    const j = judgeRace(clean());
    expect(j.disagreements).toEqual([]);
    expect(j.final).toEqual([{ kind: 'write', writer: 1, seq: 0 }, { kind: 'write', writer: 1, seq: 0 }, { kind: 'write', writer: 2, seq: 1 }, { kind: 'pre' }]);
    expect(j.blocksRead).toBe(6);
    expect(j.blocksFromWrites).toBe(4);
  });

  it('calls a sector from no writer a disagreement', () => {
    const input = clean();
    input.obs.reads[1]!.versions![3] = { kind: 'other', hash: '0123456789abcdef' };
    const j = judgeRace(input);
    expect(j.disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-foreign', FIRST + SPB + 3]]);
  });

  it('calls a write payload where that write never went a disagreement (a misdirected write)', () => {
    const input = clean();
    input.obs.final!.versions!.splice(24, 8, ...of(2, 1, SPB));
    const j = judgeRace(input);
    expect(j.disagreements.map((d) => d.kind)).toEqual(['race-foreign']);
    expect(j.final).toBeUndefined();
  });

  it('calls a block torn between two writes a disagreement', () => {
    const input = clean();
    input.obs.reads[1]!.versions = [...of(1, 0, 4), ...of(2, 0, 4)];
    expect(judgeRace(input).disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-torn', FIRST + SPB]]);
  });

  it('calls a torn sector (half of one write, half of another: no payload matches) a disagreement', () => {
    const a = raceSector(9, 1, 0, FIRST);
    const b = raceSector(9, 2, 0, FIRST);
    const torn = Buffer.concat([a.subarray(0, 256), b.subarray(256)]);
    const input = clean();
    input.obs.reads[2]!.versions![0] = { kind: 'other', hash: sectorHash(torn) };
    expect(judgeRace(input).disagreements.map((d) => d.kind)).toEqual(['race-foreign']);
  });

  it('calls an EILSEQ during the race a disagreement', () => {
    const input = clean();
    input.obs.reads[0] = r(3, 0, 1, 12, 18, pre(SPB), 84);
    const j = judgeRace(input);
    expect(j.disagreements.map((d) => [d.kind, d.found.endsWith('errno 84')])).toEqual([['race-read-failed', true]]);
  });

  it('calls a failed write a disagreement but keeps it a possible version', () => {
    const input = clean();
    input.obs.writes[2]!.errno = 5;
    const j = judgeRace(input);
    expect(j.disagreements.map((d) => d.kind)).toEqual(['race-write-failed']);
  });

  it('calls the content before the race stale once a write over it completed before the read began', () => {
    const input = clean();
    input.obs.reads[2]!.versions!.splice(0, 8, ...pre(SPB));
    expect(judgeRace(input).disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-stale', FIRST]]);
  });

  it('calls a write stale once a later write over it completed before the read began', () => {
    const input = clean();
    // 2.0 (15-30) is overwritten on block 1 by 4.0 (32-34), which completed before the read at 60
    input.obs.writes.push(w(4, 0, 1, 1, 32, 34));
    input.obs.final!.versions!.splice(8, 8, ...of(4, 0, SPB));
    expect(judgeRace(input).disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-stale', FIRST + SPB]]);
  });

  it('calls a write seen by a read that completed before it was submitted a disagreement', () => {
    const input = clean();
    input.obs.writes.push(w(5, 0, 3, 1, 200, 210));
    input.obs.reads.push(r(3, 3, 3, 12, 18, of(5, 0, SPB)));
    expect(judgeRace(input).disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-future', FIRST + 3 * SPB]]);
  });

  it('calls a final version that a completed write overwrote a disagreement', () => {
    const input = clean();
    // block 2's content before the race was overwritten by 2.1 (40-50)
    input.obs.final!.versions!.splice(16, 8, ...pre(SPB));
    const j = judgeRace(input);
    expect(j.disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-stale', FIRST + 2 * SPB]]);
  });

  it('calls a snapshot before the race that is not what the model holds a disagreement', () => {
    const input = clean();
    input.obs.initial!.versions![5] = { kind: 'other', hash: sectorHash(Buffer.alloc(512, 0xee)) };
    expect(judgeRace(input).disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-initial', FIRST + 5]]);
  });

  it('adopts nothing when the final read fails', () => {
    const input = clean();
    input.obs.final = { sector: FIRST, sectors: SECTORS, t0: 100, t1: 110, errno: 84 };
    const j = judgeRace(input);
    expect(j.final).toBeUndefined();
    expect(j.disagreements.map((d) => d.kind)).toEqual(['race-final-failed']);
  });
});

describe('race payload', () => {
  it('names its writer, sequence and address, and differs between any two of them', () => {
    const s = raceSector(7, 3, 11, 2 ** 33 + 5);
    expect(s.subarray(0, 8).toString('latin1')).toBe('ih-race:');
    expect([s.readUInt32LE(8), s.readUInt32LE(12), s.readUInt32LE(16), s.readUInt32LE(24), s.readUInt32LE(28)]).toEqual([7, 3, 11, 5, 2]);
    const all = [raceSector(7, 3, 11, 5), raceSector(7, 3, 12, 5), raceSector(7, 4, 11, 5), raceSector(7, 3, 11, 6), raceSector(8, 3, 11, 5)];
    expect(new Set(all.map(sectorHash)).size).toBe(5);
    expect(raceWriteData(7, 3, 11, 5, 2)).toEqual(Buffer.concat([raceSector(7, 3, 11, 5), raceSector(7, 3, 11, 6)]));
  });

  it('hashes as FNV-1a 64', () => {
    expect(sectorHash(Buffer.from(''))).toBe('cbf29ce484222325');
    expect(sectorHash(Buffer.from('a'))).toBe('af63dc4c8601ec8c');
  });
});

describe('adoptRaceFinal', () => {
  it('puts each write version\'s payload in its block and leaves the content before the race elsewhere', () => {
    const model = new IntegrityDeviceModel({ sectorsPerBlock: SPB, providedDataSectors: 1024 });
    const before = Buffer.alloc(SECTORS * 512, 0x5a);
    model.write(FIRST, before);
    adoptRaceFinal(model, 9, FIRST, [{ kind: 'write', writer: 1, seq: 4 }, { kind: 'pre' }, { kind: 'write', writer: 2, seq: 0 }, { kind: 'pre' }]);
    const got = model.expectRead(FIRST, SECTORS * 512).data!;
    expect(got.subarray(0, 4096)).toEqual(raceWriteData(9, 1, 4, FIRST, SPB));
    expect(got.subarray(4096, 8192)).toEqual(before.subarray(4096, 8192));
    expect(got.subarray(8192, 12288)).toEqual(raceWriteData(9, 2, 0, FIRST + 2 * SPB, SPB));
    expect(got.subarray(12288)).toEqual(before.subarray(12288));
  });
});
