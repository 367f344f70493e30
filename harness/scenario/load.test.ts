import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.ts';
import { discoverScenarios, globToRegExp, loadScenarios } from './discover.ts';
import { loadScenario, ScenarioError } from './load.ts';

const HEAD = `description: This test exercises the loader with one small scenario.
disks: [{ name: data, size: 64MiB }]
`;
const STACK = 'stack: { type: integrity, disk: data }\n';

function scenarioDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ih-load-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function loadError(text: string): Promise<string> {
  const dir = scenarioDir({ 'g/x.yaml': text });
  try {
    await loadScenario(join(dir, 'g/x.yaml'), dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('the scenario loaded, but it was expected to be rejected');
}

const steps = (...s: string[]) => `steps:\n${s.map((x) => `  - ${x}`).join('\n')}\n`;

describe('loadScenario accepts', () => {
  it('a full scenario and fills defaults', async () => {
    const dir = scenarioDir({
      'g/ok.yaml': `${HEAD}requires: { kernel: "6.1", targetVersions: { integrity: "1.10.0" }, crypto: ["hmac(sha256)"], toolOptions: { integritysetup: ["--allow-discards"] } }
stack: { type: integrity, disk: data, hash: hmac-sha256, key: "00112233", mode: bitmap, sectorSize: 4096, allowDiscards: true }
${steps('write: { offset: 0, length: 1MiB, bs: 64KiB, procs: 4, fua: true }', 'read: { offset: 512, length: 100, unaligned: true }', 'discard: { offset: 0, length: 8KiB }', 'flush', 'close', 'swap: { blocks: [1, 2] }', 'corrupt: { blocks: [3], where: tag }', 'open', 'read: { offset: 0, length: 1MiB }')}`,
    });
    const s = await loadScenario(join(dir, 'g/ok.yaml'), dir);
    expect(s.id).toBe('g/ok');
    expect(s.stack).toMatchObject({ mode: 'bitmap', sectorSize: 4096, lower: 'disk' });
    expect(s.steps[0]).toEqual({ write: { offset: 0, length: 1 << 20, bs: 65536, procs: 4, fua: true, unaligned: false, buffered: false } });
    expect(s.requires).toEqual({ targets: [], kernel: '6.1', targetVersions: { integrity: '1.10.0' }, crypto: ['hmac(sha256)'], toolOptions: { integritysetup: ['--allow-discards'] } });
  });

  it('a tables step: placeholders must name declared disks and sizes within them, with the stack closed', async () => {
    const steps = (args: string) => `${STACK}steps: [close, { tables: [{ args: "${args}" }] }]\n`;
    expect(await loadError(`${HEAD}${steps('{disk:nope} 0 4 J 0')}`)).toMatch(/\{disk:nope\} names no declared disk/);
    expect(await loadError(`${HEAD}${steps('{disk:data:999999999} 0 4 J 0')}`)).toMatch(/not within the 67108864-byte disk/);
    expect(await loadError(`${HEAD}${steps('{bogus} 0 4 J 0')}`)).toMatch(/none of \{disk:NAME\}/);
    expect(await loadError(`${HEAD}${STACK}steps: [{ tables: [{ args: "{missing} 0 4 J 0" }] }]\n`)).toMatch(/only change a closed stack/);
  });

  it('a profiles step: every name a declared disk, the message naming the entry and the field', async () => {
    expect(await loadError(`${HEAD}${STACK}steps: [{ profiles: [{ linear: [data] }, { linear: [data], reload: [nvme9] }] }]\n`))
      .toMatch(/steps\[0\]\.profiles\[1\]\.reload\[0\]: 'nvme9' names no declared disk \(declared: data\)/);
    expect(await loadError(`${HEAD}${STACK}steps: [{ profiles: [] }]\n`)).toMatch(/profiles/);
  });

  it('a race step with its defaults and a cpus field, and refuses ranges and stacks a race cannot use', async () => {
    const dir = scenarioDir({ 'g/race.yaml': `${HEAD}cpus: 2\n${STACK}${steps('race: { offset: 0, length: 64KiB, seed: 7 }')}` });
    const s = await loadScenario(join(dir, 'g/race.yaml'), dir);
    expect(s.cpus).toBe(2);
    expect(s.steps[0]).toEqual({ race: { offset: 0, length: 65536, procs: 4, ops: 200, qd: 8, maxBlocks: 8, writePercent: 50, seed: 7 } });
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 2MiB }')}`)).toMatch(/steps\[0\]\.race\.length: 2097152 bytes is no hot range/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 512 }')}`)).toMatch(/race\.length: 512 bytes is one block/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 100, length: 4KiB }')}`)).toMatch(/race\.offset: 100 is not a multiple/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 4KiB, maxBlocks: 16 }')}`)).toMatch(/race\.maxBlocks: 16 blocks of 512 bytes do not fit/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 4KiB, procs: 1, qd: 1 }')}`)).toMatch(/races nothing/);
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'race: { offset: 0, length: 4KiB }')}`)).toMatch(/'race' needs the stack open/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 4KiB, procs: 17 }')}`)).toMatch(/procs/);
    expect(await loadError(`${HEAD}cpus: 0\n${STACK}${steps('flush')}`)).toMatch(/cpus/);
  });

  it('a race under a churn with its defaults, and refuses a churn with no cycle or an unknown suspend flag', async () => {
    const dir = scenarioDir({ 'g/churn.yaml': `${HEAD}${STACK}${steps('race: { offset: 0, length: 64KiB, churn: { cycles: [{ suspend: noflush }, { reload: tuned }] } }')}` });
    const s = await loadScenario(join(dir, 'g/churn.yaml'), dir);
    expect(s.steps[0]).toMatchObject({ race: { churn: { device: 'top', cycles: [{ suspend: 'noflush', reload: 'none' }, { suspend: 'default', reload: 'tuned' }], holdMs: 20, gapMs: 50 } } });
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 64KiB, churn: { cycles: [] } }')}`)).toMatch(/steps\[0\]\.race\.churn\.cycles/);
    expect(await loadError(`${HEAD}${STACK}${steps('race: { offset: 0, length: 64KiB, churn: { cycles: [{ suspend: lockfs }] } }')}`)).toMatch(/steps\[0\]\.race\.churn\.cycles\[0\]\.suspend/);
  });

  it('an unstable step with its defaults, and refuses ranges and states its writes cannot use', async () => {
    const dir = scenarioDir({ 'g/unstable.yaml': `${HEAD}${STACK}${steps('unstable: { offset: 4KiB, length: 8KiB }')}` });
    expect((await loadScenario(join(dir, 'g/unstable.yaml'), dir)).steps[0]).toEqual({ unstable: { offset: 4096, length: 8192, writes: 64, writeBlocks: 1 } });
    expect(await loadError(`${HEAD}${STACK}${steps('unstable: { offset: 100, length: 4KiB }')}`)).toMatch(/steps\[0\]\.unstable\.offset: 100 is not a multiple/);
    expect(await loadError(`${HEAD}${STACK}${steps('unstable: { offset: 0, length: 2560, writeBlocks: 2 }')}`))
      .toMatch(/steps\[0\]\.unstable\.writeBlocks: writes of 2 blocks of 512 bytes do not tile the 2560-byte range/);
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'unstable: { offset: 0, length: 4KiB }')}`)).toMatch(/'unstable' needs the stack open/);
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'open: { mode: recovery }', 'unstable: { offset: 0, length: 4KiB }')}`))
      .toMatch(/steps\[2\]\.unstable: the stack is open in recovery mode, which refuses every write/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: linear }\n${steps('close', 'ioError: { blocks: [2] }', 'open', 'unstable: { offset: 0, length: 4KiB }')}`))
      .toMatch(/steps\[3\]\.unstable: covers block\(s\) 2 under an ioError/);
    expect(await loadError(`${HEAD}${STACK}${steps('unstable: { offset: 0, length: 4KiB, writes: 0 }')}`)).toMatch(/steps\[0\]\.unstable\.writes/);
  });

  it('a crypt-aead tables step: dm-crypt tables with {key:N} and {integrity:...} helpers on disks of their own', async () => {
    const head = `description: This test exercises the loader with one small scenario.
disks: [{ name: data, size: 16MiB }, { name: other, size: 2MiB }]
stack: { type: crypt-aead, disk: data, cipher: "capi:gcm(aes)-random" }
`;
    const tables = (...args: string[]) => `steps: [{ tables: [${args.map((a) => `{ args: "${a}" }`).join(', ')}] }]\n`;
    const gcm = 'capi:gcm(aes)-random {key:32} 0';
    const dir = scenarioDir({ 'g/ok.yaml': `${head}${tables(`${gcm} {integrity:other:28} 0 1 integrity:28:aead`, `${gcm} {integrity:other:28} 0 0`)}` });
    expect((await loadScenario(join(dir, 'g/ok.yaml'), dir)).steps).toHaveLength(1);
    expect(await loadError(`${head}${tables(`${gcm} {integrity:data:28} 0 0`)}`)).toMatch(/disk 'data' is the stack's/);
    expect(await loadError(`${head}${tables(`${gcm} {disk:data} 0 0`)}`)).toMatch(/the stack's disk; an accepted table would write it/);
    expect(await loadError(`${head}${tables(`${gcm} {integrity:other:28} 0 0`, `${gcm} {integrity:other:32} 0 0`)}`)).toMatch(/disk 'other' was formatted by \{integrity:other:28\}/);
    expect(await loadError(`${head}${tables(`${gcm} {integrity:other:28:1000} 0 0`)}`)).toMatch(/BLOCK 512, 1024, 2048 or 4096/);
    expect(await loadError(`${head}${tables('capi:gcm(aes)-random {key:0} 0 {missing} 0')}`)).toMatch(/\{key:0\}: expected \{key:N\} with 1 to 512 bytes/);
    expect(await loadError(`${head}${tables(`${gcm} {integrity:nope:28} 0 0`)}`)).toMatch(/on a declared disk/);
    expect(await loadError(`${head}steps: [{ tables: [{ args: "${gcm} {missing} 0 0", crash: true }] }]\n`)).toMatch(/only dm-integrity tables leave a superblock/);
  });

  it('every scenario in the repository', async () => {
    const all = await loadScenarios(new URL('../../scenarios', import.meta.url).pathname);
    expect(all.length).toBeGreaterThan(0);
    // the crash-consistency replays take minutes each under TCG: out of the default library, with a reason
    for (const s of all.filter((x) => x.id.startsWith('crash/'))) expect(s.slow, s.id).toMatch(/\S/);
    // besides them the races and the writes of changing buffers (2-vCPU guests), the scenarios that fail by known kernel bugs (docs/matrix.md)
    // and two long cells the default library's wall-time budget has no room for
    expect(all.filter((x) => !x.id.startsWith('crash/') && x.slow !== undefined).map((x) => x.id)).toEqual([
      'crypt/015-gcm-race-4k', 'crypt/016-integrity-without-profile', 'crypt/017-gcm-race-suspend-reload', 'crypt/018-gcm-unstable-buffer',
      'integrity/025-journal-cbc-aes-hmac-4k', 'integrity/047-race-journal-4k', 'integrity/048-race-bitmap-512', 'integrity/050-recovery-mode-journal',
      'integrity/053-profile-conflict-reload', 'integrity/054-race-direct-1k', 'integrity/060-race-suspend-reload-journal', 'integrity/061-unstable-buffer-journal', 'integrity/062-unstable-buffer-bitmap',
      'integrity/063-unstable-buffer-direct-512',
    ]);
  });
});

describe('slow', () => {
  it('takes a one-line reason and keeps it', async () => {
    const dir = scenarioDir({ 'g/s.yaml': `${HEAD}slow: "replays 100 crash points: minutes under TCG"\n${STACK}${steps('status')}` });
    expect((await loadScenario(join(dir, 'g/s.yaml'), dir)).slow).toBe('replays 100 crash points: minutes under TCG');
  });

  it('is absent unless given', async () => {
    const dir = scenarioDir({ 'g/q.yaml': `${HEAD}${STACK}${steps('status')}` });
    expect((await loadScenario(join(dir, 'g/q.yaml'), dir)).slow).toBeUndefined();
  });
});

describe('loadScenario rejects, naming the file and the field', () => {
  it('slow without a reason', async () => {
    expect(await loadError(`${HEAD}slow: true\n${STACK}${steps('status')}`)).toMatch(/g\/x\.yaml: slow: expected a one-line reason why the scenario is slow.*got true/);
    expect(await loadError(`${HEAD}slow: "  slow "\n${STACK}${steps('status')}`)).toMatch(/g\/x\.yaml: slow: expected a one-line reason/);
  });

  it('slow with a reason over several lines', async () => {
    expect(await loadError(`${HEAD}slow: "replays crash points:\\nminutes each"\n${STACK}${steps('status')}`)).toMatch(/g\/x\.yaml: slow: the reason must be one line/);
  });

  it('YAML that does not parse', async () => {
    expect(await loadError('description: [unclosed\n')).toMatch(/g\/x\.yaml: not valid YAML/);
  });

  it('unknown and missing top-level fields', async () => {
    const m = await loadError(`${HEAD}${STACK}stepz: []\n`);
    expect(m).toMatch(/x\.yaml: steps: .*expected array/);
    expect(m).toMatch(/x\.yaml: \(top level\): Unrecognized key: "stepz"/);
  });

  it('a size that is not a size', async () => {
    expect(await loadError(`${HEAD}${STACK}${steps('read: { offset: 0, length: 4 parsecs }')}`)).toMatch(/steps\[0\]\.read\.length: expected a size like 4096/);
  });

  it('a step that is no step, listing what a step can be', async () => {
    const m = await loadError(`${HEAD}${STACK}${steps('opne', 'wrte: { offset: 0, length: 4096 }')}`);
    expect(m).toMatch(/steps\[0\]: expected one of "close", "open", "status", "flush", "reload", "suspend" or an object with one key of write, read, discard, race, unstable, corrupt, swap, corruptSuperblock, corruptJournal, ioError, tables, profiles, crash, kill, open; got "opne"/);
    expect(m).toMatch(/steps\[1\]: expected .*; got \{"wrte"/);
  });

  it('a bad field inside a fault step, not "Invalid input"', async () => {
    const m = await loadError(`${HEAD}${STACK}${steps('close', 'corrupt: { blocks: [1], where: tga }', 'corruptSuperblock: { field: magc }', 'swap: { blocks: [1] }')}`);
    expect(m).toMatch(/steps\[1\]\.corrupt\.where: .*expected one of "data"\|"tag"/);
    expect(m).toMatch(/steps\[2\]\.corruptSuperblock\.field: .*"magic"/);
    expect(m).toMatch(/steps\[3\]\.swap\.blocks: /);
    expect(m).not.toMatch(/Invalid input$/m);
  });

  it('requirements in the wrong form', async () => {
    const m = await loadError(`${HEAD}requires: { kernel: "six", targetVersions: { integrity: "v1" }, toolOptions: { integritysetup: ["allow discards"] }, crypto: [""] }\n${STACK}${steps('status')}`);
    expect(m).toMatch(/requires\.kernel: expected a version like "6\.1"/);
    expect(m).toMatch(/requires\.targetVersions\.integrity: expected a version/);
    expect(m).toMatch(/requires\.toolOptions\.integritysetup\[0\]: expected an option/);
    expect(m).toMatch(/requires\.crypto\[0\]: /);
  });

  it('references to undeclared disks and a metadata disk that is the data disk', async () => {
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: dta }\n${steps('status')}`)).toMatch(/stack\.disk: 'dta' is not one of the declared disks \(data\)/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, metaDisk: data }\n${steps('status')}`)).toMatch(/stack\.metaDisk: 'data' is also stack\.disk/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, metaDisk: meta }\n${steps('status')}`)).toMatch(/stack\.metaDisk: 'meta' is not one of the declared disks/);
  });

  it('a disk whose blocks are larger than the stack\'s sectors, and host changes under T10 protection information', async () => {
    const disk4k = 'description: This test exercises the loader with one small scenario.\ndisks: [{ name: data, size: 64MiB, logicalBlockSize: 4096 }]\n';
    expect(await loadError(`${disk4k}${STACK}${steps('status')}`)).toMatch(/disks\[0\]\.logicalBlockSize: 4096 is larger than the stack's sectorSize 512/);
    const pi = 'description: This test exercises the loader with one small scenario.\ndisks: [{ name: data, size: 64MiB, nvme: { pi: 1 } }]\n';
    expect(await loadError(`${pi}${STACK}${steps('close', 'corrupt: { blocks: [1], where: data }', 'open')}`)).toMatch(/steps\[1\]\.corrupt: host changes under T10 protection information are not modelled \(disk\(s\) data have nvme\.pi > 0\)/);
    expect(await loadError(`${HEAD.replace('size: 64MiB', 'size: 64MiB, nvme: { pi: 2 }')}${STACK}${steps('status')}`)).toMatch(/disks\[0\]\.nvme\.pi/);
  });

  it('vectored or buffered I/O where it cannot be done or judged', async () => {
    expect(await loadError(`${HEAD}${STACK}${steps('read: { offset: 0, length: 8KiB, buffered: true }')}`)).toMatch(/steps\[0\]\.read\.buffered: reads are O_DIRECT/);
    expect(await loadError(`${HEAD}${STACK}${steps('write: { offset: 512, length: 8KiB, bs: 512, buffered: true }')}`)).toMatch(/steps\[0\]\.write\.buffered: offset 512 and length 8192 must be multiples of 4096/);
    expect(await loadError(`${HEAD}${STACK}${steps('write: { offset: 0, length: 8KiB, iovecs: 4 }')}`)).toMatch(/steps\[0\]\.write\.iovecs: an I\/O of one 512-byte block cannot be split/);
    expect(await loadError(`${HEAD}${STACK}${steps('write: { offset: 100, length: 1000, unaligned: true, iovecs: 2 }')}`)).toMatch(/steps\[0\]\.write\.iovecs: an unaligned range is one plain I\/O/);
    expect(await loadError(`${HEAD}${STACK}${steps('read: { offset: 0, length: 8KiB, bs: 4KiB, iovecs: 17 }')}`)).toMatch(/steps\[0\]\.read\.iovecs/);
  });

  it('keys that do not fit the hash', async () => {
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, hash: hmac-sha256 }\n${steps('status')}`)).toMatch(/stack\.key: hmac-sha256 needs a hex key/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, key: "0011" }\n${steps('status')}`)).toMatch(/stack\.key: only the hmac-\* hashes take a key, the hash is crc32c/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, hash: hmac-sha512 }\n${steps('status')}`)).toMatch(/stack\.key: hmac-sha512 needs a hex key/);
  });

  it('a dm-delay lower device without its delays, delays without it, and steps that bypass it', async () => {
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: delay }\n${steps('status')}`)).toMatch(/stack\.lower: delay needs stack\.lowerDelay: \{ read, write, flush \}/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: linear, lowerDelay: { read: 1, write: 2, flush: 3 } }\n${steps('status')}`)).toMatch(/stack\.lowerDelay: applies to lower: delay only, the lower device is linear/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: delay, lowerDelay: { read: 1, write: 2 } }\n${steps('status')}`)).toMatch(/stack\.lowerDelay\.flush/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: delay, lowerDelay: { read: 1, write: 2, flush: 3 } }\n${steps('close', 'ioError: { blocks: [8] }', 'open')}`)).toMatch(/steps\[1\]\.ioError: needs stack\.lower: linear/);
  });

  it('a tag size or a byte to flip that does not fit', async () => {
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, tagSize: 0 }\n${steps('status')}`)).toMatch(/stack\.tagSize/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, tagSize: 6 }\n${steps('close', 'corrupt: { blocks: [1], where: tag, byte: 6 }', 'open')}`))
      .toMatch(/steps\[1\]\.corrupt\.byte: 6 is outside the block's tag \(0\.\.5\)/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, hash: sha1 }\n${steps('close', 'corrupt: { blocks: [1], where: tag, byte: 20 }', 'open')}`))
      .toMatch(/corrupt\.byte: 20 is outside the block's tag \(0\.\.19\)/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data }\n${steps('close', 'corrupt: { blocks: [1], byte: 512 }', 'open')}`))
      .toMatch(/corrupt\.byte: 512 is outside the block's data \(0\.\.511\)/);
  });

  it('steps that do not fit the stack state', async () => {
    const m = await loadError(`${HEAD}${STACK}${steps('open', 'corrupt: { blocks: [1] }', 'close', 'read: { offset: 0, length: 4096 }', 'close')}`);
    expect(m).toMatch(/steps\[0\]: 'open' but the stack is already open/);
    expect(m).toMatch(/steps\[1\]\.corrupt: the host can only change a closed stack/);
    expect(m).toMatch(/steps\[3\]: 'read' needs the stack open/);
    expect(m).toMatch(/steps\[4\]: 'close' but the stack is already closed/);
  });

  it('I/O after a superblock corruption, since no open can succeed', async () => {
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'corruptSuperblock: { field: magic }', 'open', 'read: { offset: 0, length: 4096 }')}`))
      .toMatch(/steps\[3\]: 'read' needs the stack open, but steps\[1\] corrupted the superblock/);
  });

  it('a journal corruption without a journal, and a swap of a block with itself', async () => {
    const m = await loadError(`${HEAD}stack: { type: integrity, disk: data, mode: direct }\n${steps('close', 'corruptJournal: { where: data }', 'swap: { blocks: [5, 5] }')}`);
    expect(m).toMatch(/steps\[1\]\.corruptJournal: the stack's mode is direct/);
    expect(m).toMatch(/steps\[2\]\.swap\.blocks: swapping block 5 with itself/);
  });

  it('an ioError without a dm-linear lower device, and writes over an erroring block', async () => {
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'ioError: { blocks: [8] }')}`)).toMatch(/steps\[1\]\.ioError: needs stack\.lower: linear/);
    expect(await loadError(`${HEAD}stack: { type: integrity, disk: data, lower: linear }\n${steps('close', 'ioError: { blocks: [8] }', 'open', 'write: { offset: 0, length: 8KiB }')}`))
      .toMatch(/steps\[3\]\.write: covers block\(s\) 8 under an ioError/);
  });

  it('ranges that are misaligned without saying so, or say so and are aligned', async () => {
    const m = await loadError(`${HEAD}stack: { type: integrity, disk: data, sectorSize: 4096 }\n${steps('read: { offset: 512, length: 4096 }', 'read: { offset: 0, length: 8192, unaligned: true }', 'read: { offset: 1, length: 10, unaligned: true, bs: 10 }', 'write: { offset: 0, length: 8192, bs: 1000 }', 'read: { offset: 0, length: 128MiB }')}`);
    expect(m).toMatch(/steps\[0\]\.read\.offset: 512 is not a multiple of the stack's sector size 4096/);
    expect(m).toMatch(/steps\[1\]\.read\.unaligned: offset 0 and length 8192 are both multiples/);
    expect(m).toMatch(/steps\[2\]\.read\.bs: an unaligned range is issued as one I\/O/);
    expect(m).toMatch(/steps\[3\]\.write\.bs: 1000 is not a positive multiple of 4096/);
    expect(m).toMatch(/steps\[4\]\.read: ends at 134217728, beyond the 67108864-byte disk/);
  });

  it('blocks beyond the disk', async () => {
    expect(await loadError(`${HEAD}${STACK}${steps('close', 'corrupt: { blocks: [1, 131072] }')}`)).toMatch(/steps\[1\]\.corrupt\.blocks: block 131072 is beyond the 67108864-byte disk/);
  });
});

describe('discoverScenarios', () => {
  it('reports every malformed file at once, before anything runs', async () => {
    const dir = scenarioDir({ 'a/1.yaml': `${HEAD}${STACK}${steps('opne')}`, 'a/2.yaml': `${HEAD}${STACK}steps: []\n`, 'a/3.yaml': `${HEAD}${STACK}${steps('status')}` });
    const err = await discoverScenarios(dir).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ScenarioError);
    expect(err!.message).toMatch(/a\/1\.yaml: steps\[0\]/);
    expect(err!.message).toMatch(/a\/2\.yaml: steps: Too small/);
    expect(err!.message).not.toMatch(/3\.yaml/);
  });

  it('names the globs that matched nothing', async () => {
    const dir = scenarioDir({ 'a/3.yaml': `${HEAD}${STACK}${steps('status')}` });
    await expect(discoverScenarios(dir, ['b/*'])).rejects.toThrow(/--scenario b\/\*: matches none of a\/3/);
  });
});

describe('globToRegExp', () => {
  it('matches scenario ids as a shell globs file names: *, ?, ** and character classes', () => {
    const ids = ['integrity/001-a', 'integrity/004-b', 'integrity/005-c', 'integrity/010-d', 'crypt/001-x'];
    const match = (g: string) => ids.filter((id) => globToRegExp(g).test(id));
    expect(match('integrity/00[1-4]*')).toEqual(['integrity/001-a', 'integrity/004-b']);
    expect(match('integrity/00[!1-4]*')).toEqual(['integrity/005-c']);
    expect(match('*/001-?')).toEqual(['integrity/001-a', 'crypt/001-x']);
    expect(match('**')).toEqual(ids);
    expect(match('*')).toEqual([]);
    expect(globToRegExp('a[b').test('a[b')).toBe(true); // an unclosed [ is itself
    expect(globToRegExp('a[]b').test('a[]b')).toBe(true);
  });
});

describe('an open in another mode', () => {
  it('is refused for a crypt stack and for an integrity stack tuned for one mode', async () => {
    const crypt = await loadError(`${HEAD}stack: { type: crypt-aead, disk: data, cipher: 'capi:gcm(aes)-random', key: 'ab00000000000000000000000000000000000000000000000000000000000000' }\n${steps('close', 'open: { mode: bitmap }')}`);
    expect(crypt).toMatch(/steps\[1\]\.open\.mode: only an integrity stack opens in another mode/);
    const tuned = await loadError(`${HEAD}stack: { type: integrity, disk: data, journalWatermark: 10 }\n${steps('close', 'open: { mode: bitmap }')}`);
    expect(tuned).toMatch(/steps\[1\]\.open\.mode: the stack's journalWatermark belong to one mode/);
  });

  it('in recovery mode: not with a recalculation, a raw table or a broken superblock; no crash, kill or buffered write while in it', async () => {
    const recalc = await loadError(`${HEAD}stack: { type: integrity, disk: data, recalculate: true }\n${steps('close', 'open: { mode: recovery }')}`);
    expect(recalc).toMatch(/steps\[1\]\.open\.mode: recovery mode with stack\.recalculate/);
    const raw = await loadError(`${HEAD}stack: { type: integrity, disk: data, table: { options: [] } }\n${steps('close', 'open: { mode: recovery }')}`);
    expect(raw).toMatch(/steps\[1\]\.open\.mode: a raw-table stack opens in its table's mode/);
    const sb = await loadError(`${HEAD}${STACK}${steps('close', 'corruptSuperblock: { field: magic }', 'open: { mode: recovery }')}`);
    expect(sb).toMatch(/steps\[2\]\.open\.mode: steps\[1\] corrupted the superblock/);
    const buffered = await loadError(`${HEAD}${STACK}${steps('close', 'open: { mode: recovery }', 'write: { offset: 0, length: 4096, buffered: true }')}`);
    expect(buffered).toMatch(/steps\[2\]\.write\.buffered: the stack is open in recovery mode/);
  });

  it('in recovery mode: O_DIRECT writes and a plain open after it load', async () => {
    const dir = scenarioDir({ 'g/r.yaml': `${HEAD}${STACK}${steps('close', 'open: { mode: recovery }', 'write: { offset: 0, length: 4096 }', 'close', 'open', 'write: { offset: 0, length: 4096, buffered: true }')}` });
    const s = await loadScenario(join(dir, 'g/r.yaml'), dir);
    expect(s.steps[1]).toEqual({ open: { mode: 'recovery' } });
  });
});
