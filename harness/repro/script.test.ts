import { describe, expect, it } from 'vitest';
import type { StepRecord } from '../run/session/observations.ts';
import { expectationText, generateRepro, oopsRegex, ReproUnsupported, shellWord, type ReproInput } from './script.ts';
import { flushCountersArgv } from '../run/session/flush-judge.ts';

const cmd = (argv: string[], extra: Partial<StepRecord['commands'][number]> = {}) => ({ argv, exitCode: 0, durationMs: 1, ...extra });

/** The shape of integrity/001's record on a kernel that skips the tag compare (taken from a real steps.jsonl). */
function integrityRun(): ReproInput {
  const steps: StepRecord[] = [
    {
      index: -1, kind: 'setup', durationMs: 1, disks: { data: '/dev/vdd', payload: '/dev/vde', out: '/dev/vdf' },
      commands: [
        cmd(['cat', '/proc/version'], { cached: true }),
        cmd(['tee', '/tmp/ih-integrity.key'], { stdinHex: '00ff10', must: true }),
        cmd(['dmsetup', 'create', 'ih-low'], { stdinHex: Buffer.from('0 131072 linear /dev/vdd 0\n').toString('hex'), must: true }),
        cmd(['integritysetup', 'format', '--batch-mode', '/dev/mapper/ih-low', '--integrity', 'hmac-sha256', '--integrity-key-file', '/tmp/ih-integrity.key'], { must: true }),
        cmd(['dmsetup', 'table', '--showkeys', 'ih-int'], { must: true }),
      ],
    },
    {
      index: 0, kind: 'write', durationMs: 1,
      commands: [cmd(['ih-io', 'copy', '--src', '/dev/vde', '--src-offset', '0', '--dst', '/dev/mapper/ih-int', '--dst-offset', '0', '--length', '2097152', '--bs', '131072', '--block', '512'])],
      expect: [{ command: 0, op: 'write', offset: 0, length: 2097152, bs: 131072, errno: 0 }],
    },
    { index: 3, kind: 'corrupt', durationMs: 0, commands: [], hostOps: [{ op: 'flip', disk: 'data', offset: 1234567 }] },
    {
      index: 5, kind: 'read', durationMs: 1,
      commands: [cmd(['ih-io', 'read', '--dev', '/dev/mapper/ih-int', '--offset', '0', '--length', '2097152', '--bs', '131072', '--block', '512', '--out', '/dev/vdf', '--out-offset', '2097152', '--log-ok'])],
      expect: [{
        command: 0, op: 'read', offset: 0, length: 2097152, bs: 131072, blockSize: 512,
        fail: [[0, [84]]], blocks: [[3, 84]], data: [[0, 3, 0], [4, 252, 2048], [256, 2, -1], [258, 1, 'ab'.repeat(512)]],
      }],
    },
    { index: 6, kind: 'flush', durationMs: 1, commands: [cmd(flushCountersArgv([{ role: 'data', block: 'vdd' }]), { must: true })] },
    {
      index: 7, kind: 'status', durationMs: 1,
      commands: [cmd(['dmsetup', 'status', 'ih-int'], { must: true })],
      expect: [{ command: 0, op: 'status', device: 'ih-int', mismatches: [4, 12] }],
    },
  ];
  return {
    cellId: 'src-6.1+skip/integrity/001', scenarioId: 'integrity/001-crc32c-journal-corrupt', stepTimeoutSec: 60,
    disks: [{ name: 'data', size: 64 << 20 }],
    result: {
      verdict: 'fail', reason: '2 disagreement(s) with the model; first: step 5 silent-acceptance block 3', kernelRelease: '6.1.158',
      disagreements: [{ step: 5, kind: 'silent-acceptance', block: 3, expected: 'errno 84 (blocks 3)', found: 'read succeeded' }],
    },
    steps,
  };
}

describe('the generated reproducer', () => {
  const repro = generateRepro(integrityRun());
  const sh = repro.files.get('repro.sh') as string;

  it('replays the commands with the scenario disks as variables and the key file in the scratch directory', () => {
    expect(sh).toContain(`ih_run 1 0 -i "$R/stdin-setup-1.bin" -- tee "\${W}/tmp/ih-integrity.key"`);
    expect(repro.files.get('stdin-setup-1.bin')).toEqual(Buffer.from([0, 0xff, 0x10]));
    expect(sh).toContain(`printf '%s' "0 131072 linear \${DISK_data} 0\n" >"$W/stdin"\nih_run 1 0 -i "$W/stdin" -- dmsetup create ih-low`);
    expect(sh).toContain('-- integritysetup format --batch-mode /dev/mapper/ih-low --integrity hmac-sha256 --integrity-key-file "${W}/tmp/ih-integrity.key"');
    expect(sh).toContain('ih_disk DISK_data data 67108864');
    expect(sh).toContain('ih_need dmsetup integritysetup tee');
  });

  it('marks a tool command the model does not judge, that worked in the run, as one that must work here', () => {
    const input = integrityRun();
    input.steps[0]!.commands.push(cmd(['dmsetup', 'create', 'ih-crypt', '--table', '0 8 crypt x']));
    expect(generateRepro(input).files.get('repro.sh')).toContain("ih_run e 0 -- dmsetup create ih-crypt --table '0 8 crypt x'");
  });

  it('checks that a command the model says must be refused is refused, whatever it did in the run', () => {
    const input = integrityRun();
    input.steps[0]!.commands.push(cmd(['integritysetup', 'open', '/dev/vdd', 'ih-int', '--integrity', 'crc32c']));
    input.steps[0]!.expect = [{ command: input.steps[0]!.commands.length - 1, op: 'refused', why: 'Invalid magic' }];
    expect(generateRepro(input).files.get('repro.sh')).toContain('ih_run 0 0 -- integritysetup open "${DISK_data}" ih-int --integrity crc32c\nih_refused \'Invalid magic\'\n');
  });

  it('leaves out questions to the guest, but not a status whose counter the model judges', () => {
    expect(sh).toContain('# not replayed (a question to the guest): dmsetup table --showkeys ih-int');
    expect(sh).toContain('# not replayed (a question to the guest): cat /proc/version');
    // the flush step's counters name the guest's disks by their /sys/block names
    expect(sh).toMatch(/# not replayed \(a question to the guest\): sh -c .* ih-flush-counters vdd/);
    expect(sh).toMatch(/ih_run 1 0 -- dmsetup status ih-int\nih_check expect-7-0.txt/);
    expect(repro.files.get('expect-7-0.txt')).toBe('status ih-int 4 12\n');
  });

  it('moves the bytes through payload.bin and out.bin with the device I/O unchanged', () => {
    expect(sh).toContain('ih_run 0 0 -- "$IO" copy --src "$R/payload.bin" --src-offset 0 --dst /dev/mapper/ih-int --dst-offset 0 --length 2097152 --bs 131072 --block 512 --src-buffered\nih_check expect-0-0.txt');
    expect(sh).toContain('ih_out 2097152\nih_run 0 0 -- "$IO" read --dev /dev/mapper/ih-int --offset 0 --length 2097152 --bs 131072 --block 512 --out "$W/out.bin" --out-offset 0 --dst-buffered --log-ok\nih_check expect-5-0.txt');
    expect(repro.payloadBytes).toBe(2097152);
  });

  it('flips the byte the host flipped, at the same raw offset of the same disk', () => {
    expect(sh).toMatch(/ih_step '3 corrupt'\nih_flip "\$DISK_data" 1234567\n/);
  });

  it('stores the model\'s answer: failing I/Os, failing blocks, and where each good block\'s bytes are', () => {
    expect(repro.files.get('expect-5-0.txt')).toBe([
      'read 0 2097152 131072 512', 'fail 0 84', 'block 3 84', 'data 0 3 0', 'data 4 252 2048', 'data 256 2 zero', 'data 258 1 extra:0', '',
    ].join('\n'));
    expect(repro.files.get('extra.bin')).toEqual(Buffer.alloc(512, 0xab));
  });

  it('says what the run saw, and exits 0 only after every step agreed', () => {
    expect(sh).toMatch(/^#!\/bin\/sh\n# Reproducer for src-6\.1\+skip\/integrity\/001/);
    expect(sh).toContain('# First disagreement: step 5 silent-acceptance block 3: expected errno 84 (blocks 3), found read succeeded');
    expect(sh.trimEnd().split('\n').slice(-2)).toEqual(['echo "NOT REPRODUCED"', 'exit 0']);
    expect(sh).not.toContain('does not check');
  });

  it('searches the kernel log for what the console scan calls a crash', () => {
    const re = new RegExp(oopsRegex());
    expect(re.test('[   12.3] BUG: kernel NULL pointer dereference, address: 0000000000000000')).toBe(true);
    expect(re.test('[   12.3] WARNING: CPU: 0 PID: 12 at drivers/md/dm-integrity.c:100 f+0x1/0x2')).toBe(true);
    expect(re.test('[   12.3] device-mapper: integrity: dm-0: Checksum failed at sector 0x3')).toBe(false);
    expect(sh).toContain(`IH_OOPS='${oopsRegex()}'`);
  });
});

describe('what the generator leaves out or refuses', () => {
  it('a cell whose guest never reached the scenario', () => {
    expect(() => generateRepro({ ...integrityRun(), steps: [] })).toThrow(ReproUnsupported);
  });

  it('a crash-consistency step', () => {
    const input = integrityRun();
    input.steps.push({ index: 8, kind: 'crash', durationMs: 1, commands: [] });
    expect(() => generateRepro(input)).toThrow(/step 8 is a crash step/);
  });

  it('a table that names a guest device by major:minor (read back from the kernel): left out, said so', () => {
    const input = integrityRun();
    input.steps[0]!.commands.push(cmd(['dmsetup', 'create', 'ih-int', '--table', '0 129160 integrity 254:48 0 4 J 1 internal_hash:crc32c'], { exitCode: 1 }));
    expect(generateRepro(input).files.get('repro.sh')).toContain("# not replayed (names a guest device by major:minor; exited 1 in the run): dmsetup create ih-int --table '0 129160 integrity 254:48 0 4 J 1 internal_hash:crc32c'");
  });

  it('a transfer disk named outside ih-io', () => {
    const input = integrityRun();
    input.steps[0]!.commands.push(cmd(['blockdev', '--flushbufs', '/dev/vde']));
    expect(() => generateRepro(input)).toThrow(/transfer disk \/dev\/vde/);
  });
});

describe('pieces', () => {
  it('quotes words for the shell', () => {
    expect(shellWord(['plain/word-1'])).toBe('plain/word-1');
    expect(shellWord(["it's"])).toBe(`'it'\\''s'`);
    expect(shellWord(['0 8 linear ', { v: 'DISK_data' }, ' $x'])).toBe('"0 8 linear ${DISK_data} \\$x"');
  });

  it('writes the other expectations as check.awk reads them', () => {
    const none = () => 0;
    expect(expectationText({ command: 0, op: 'write', offset: 0, length: 4096, bs: 512, errno: 84 }, none)).toBe('write 0 4096 512 84\n');
    expect(expectationText({ command: 0, op: 'read-unaligned', offset: 100, errno: 22 }, none)).toBe('unaligned 100 22\n');
    expect(expectationText({ command: 0, op: 'discard', errno: 95 }, none)).toBe('discard 95\n');
  });
});
