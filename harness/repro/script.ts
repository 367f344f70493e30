/**
 * The text of a cell's reproducer, generated from what the run recorded (steps.jsonl: every guest command
 * with its stdin, the model's answers, the host's image changes; result.json: the verdict). Pure: write.ts
 * puts the files in the cell directory. The script replays the same integritysetup/cryptsetup/dmsetup
 * commands with the same arguments and the same O_DIRECT I/O (ih-io) on the scenario's disks, with the
 * harness's transfer disks replaced by files: payload.bin (what the writes copy from) and out.bin (where
 * reads land), both buffered, as they are not the device under test.
 */
import { CRASH_PATTERNS } from '../console.ts';
import type { CellResult, StepRecord } from '../run/session/observations.ts';
import { FLUSH_COUNTERS } from '../run/session/flush-judge.ts';
import type { CommandExpectation, HostOp } from './types.ts';

export interface ReproInput {
  cellId: string;
  scenarioId: string;
  /** the scenario's own disks (the transfer disks are not among them) */
  disks: Array<{ name: string; size: number }>;
  stepTimeoutSec: number;
  result: Pick<CellResult, 'verdict' | 'reason' | 'signature' | 'kernelRelease' | 'disagreements'>;
  steps: StepRecord[];
}

export interface Repro {
  /** file name in the repro directory -> contents (repro.sh, expectation files, binary stdin) */
  files: Map<string, string | Buffer>;
  /** bytes of the payload the script needs from its start (payload.bin) */
  payloadBytes: number;
}

/** A cell the generator cannot replay: the reason goes where the reproducer would have been. */
export class ReproUnsupported extends Error {
  override name = 'ReproUnsupported';
}

/** Read-only questions to the guest: they change nothing the bug depends on, and some name guest-only paths. */
function isQuery(argv: string[]): boolean {
  const [prog, sub] = argv;
  if (prog === 'cat' || prog === 'ls' || prog === 'which' || prog === 'dmesg') return true;
  if (argv.includes('--help') || argv.includes('--version')) return true;
  if (prog === 'sh' && argv[3] === FLUSH_COUNTERS) return true;
  return prog === 'dmsetup' && ['table', 'info', 'targets', 'status', 'ls', 'version'].includes(sub ?? '');
}

/** Disagreement kinds the script checks; others (audits, kernel-log counts, table contents) it does not. */
const CHECKED = new Set(['open-accepted', 'discard-refusal', 'false-alarm', 'silent-acceptance', 'wrong-errno', 'data-mismatch', 'short-read', 'write-failed',
  'write-accepted', 'unaligned-io', 'discard', 'flush', 'mismatch-counter']);

type Part = string | { v: string };

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const sq = (s: string) => (s !== '' && SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** One shell word: literal text in single quotes, or double quotes when it names a variable. */
export function shellWord(parts: Part[]): string {
  if (parts.every((p) => typeof p === 'string')) return sq(parts.join(''));
  return `"${parts.map((p) => (typeof p === 'string' ? p.replace(/[\\"$`]/g, '\\$&') : `\${${p.v}}`)).join('')}"`;
}

const varName = (disk: string) => `DISK_${disk.replace(/[^A-Za-z0-9_]/g, '_')}`;
const label = (s: StepRecord) => (s.index < 0 ? 'setup' : String(s.index));
const isText = (b: Buffer) => b.every((x) => x === 9 || x === 10 || (x >= 32 && x < 127));

/** The kernel-log lines the harness calls a crash (console.ts), as one POSIX extended regular expression. */
export function oopsRegex(): string {
  return CRASH_PATTERNS.map((re) => re.source.replace(/\[\^\\n\]\*/g, '.*').replace(/\\d/g, '[0-9]')).join('|');
}

export function generateRepro(input: ReproInput): Repro {
  const setup = input.steps.find((s) => s.disks !== undefined);
  if (setup === undefined) throw new ReproUnsupported('the run recorded no guest disks: the guest did not get as far as the scenario (a boot failure or hang is reproduced by booting the kernel)');
  const bad = input.steps.find((s) => s.kind === 'crash' || s.kind === 'kill');
  if (bad !== undefined) throw new ReproUnsupported(`step ${bad.index} is a ${bad.kind} step (dm-log-writes replay or a killed guest): the generator does not replay those`);
  const devs = setup.disks!;
  const scenarioDisks = new Set(input.disks.map((d) => d.name));
  // longest first, so /dev/vdaa is never read as /dev/vda + "a"
  const subst = Object.entries(devs).filter(([role]) => scenarioDisks.has(role)).sort((a, b) => b[1].length - a[1].length);
  const transfer = new Set([devs.payload, devs.out].filter((d): d is string => d !== undefined));

  const files = new Map<string, string | Buffer>();
  const extra: Buffer[] = [];
  let extraBytes = 0;
  let payloadBytes = 0;
  const tools = new Set<string>();

  const parts = (text: string): Part[] => {
    const out: Part[] = [];
    let rest = text;
    while (rest.length > 0) {
      let best: { at: number; len: number; with: Part[] } | undefined;
      for (const [role, dev] of subst) {
        const re = new RegExp(`${dev.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![A-Za-z0-9])`);
        const m = re.exec(rest);
        if (m && (best === undefined || m.index < best.at)) best = { at: m.index, len: dev.length, with: [{ v: varName(role) }] };
      }
      const tmp = /(^|\s)\/tmp\//.exec(rest);
      // the guest's key files live in /tmp; the reproducer keeps them in its scratch directory, $W/tmp
      if (tmp && (best === undefined || tmp.index + tmp[1]!.length < best.at)) best = { at: tmp.index + tmp[1]!.length, len: 5, with: [{ v: 'W' }, '/tmp/'] };
      if (best === undefined) { out.push(rest); break; }
      if (best.at > 0) out.push(rest.slice(0, best.at));
      out.push(...best.with);
      rest = rest.slice(best.at + best.len);
    }
    return out;
  };
  const word = (a: string) => {
    for (const t of transfer) if (new RegExp(`${t}(?![A-Za-z0-9])`).test(a)) throw new ReproUnsupported(`a command names the harness's transfer disk ${t} outside ih-io: '${a}'`);
    return shellWord(parts(a));
  };

  const lines: string[] = [];
  for (const step of input.steps) {
    lines.push('', `ih_step ${sq(step.index < 0 ? 'setup' : `${step.index} ${step.kind}`)}${step.note ? `  # ${step.note.replace(/\n/g, ' ')}` : ''}`);
    for (const op of step.hostOps ?? []) lines.push(hostOpLine(op, devs));
    step.commands.forEach((c, j) => {
      const expect = step.expect?.filter((e) => e.command === j) ?? [];
      if (c.cached || (isQuery(c.argv) && expect.length === 0)) {
        lines.push(`# not replayed (a question to the guest): ${c.argv.map(sq).join(' ')}`);
        return;
      }
      // a table read back from the kernel names devices by major:minor, which are the guest's, not this machine's
      const stdinText = c.stdinHex !== undefined ? Buffer.from(c.stdinHex, 'hex').toString('latin1') : '';
      if ([...c.argv, stdinText].some((a) => /(^|\s)\d+:\d+(\s|$)/.test(a))) {
        lines.push(`# not replayed (names a guest device by major:minor; exited ${c.exitCode ?? '-'} in the run): ${c.argv.map(sq).join(' ')}`);
        return;
      }
      let words: string[];
      if (c.argv[0] === 'ih-io') {
        const io = ioWords(c.argv, devs, word);
        words = ['"$IO"', ...io.words];
        payloadBytes = Math.max(payloadBytes, io.payloadEnd);
        if (io.outBytes !== undefined) lines.push(`ih_out ${io.outBytes}`);
      } else {
        tools.add(c.argv[0]!);
        words = c.argv.map(word);
      }
      let stdin = '';
      if (c.stdinHex !== undefined) {
        const bytes = Buffer.from(c.stdinHex, 'hex');
        if (isText(bytes)) {
          lines.push(`printf '%s' ${shellWord(parts(bytes.toString('latin1')))} >"$W/stdin"`);
          stdin = '-i "$W/stdin" ';
        } else {
          const name = `stdin-${label(step)}-${j}.bin`;
          files.set(name, bytes);
          stdin = `-i "$R/${name}" `;
        }
      }
      // a tool command the model does not judge but that worked in the run must work here too (else 125)
      const must = c.must ? '1' : c.argv[0] !== 'ih-io' && c.exitCode === 0 && expect.length === 0 ? 'e' : '0';
      lines.push(`ih_run ${must} ${c.exitCode ?? '-'} ${stdin}-- ${words.join(' ')}`);
      for (const e of expect) {
        if (e.op === 'refused') {
          lines.push(`ih_refused ${sq(e.why)}`);
          continue;
        }
        const name = `expect-${label(step)}-${j}.txt`;
        const text = expectationText(e, (hex) => {
          const at = extraBytes;
          const b = Buffer.from(hex, 'hex');
          extra.push(b);
          extraBytes += b.length;
          return at;
        });
        files.set(name, text);
        lines.push(`ih_check ${name}`);
        if (e.op === 'read') for (const [, count, src] of e.data) if (typeof src === 'number' && src >= 0) payloadBytes = Math.max(payloadBytes, src + count * e.blockSize);
      }
    });
  }
  if (extra.length > 0) files.set('extra.bin', Buffer.concat(extra));
  files.set('repro.sh', header(input, tools) + lines.join('\n') + '\n\nih_say "repro: every replayed step agrees with the model"\necho "NOT REPRODUCED"\nexit 0\n');
  return { files, payloadBytes };
}

function hostOpLine(op: HostOp, devs: Record<string, string>): string {
  const dev = (disk: string) => {
    if (devs[disk] === undefined) throw new ReproUnsupported(`a host-side change names disk '${disk}', which the run did not map`);
    return `"$${varName(disk)}"`;
  };
  if (op.op === 'flip') return `ih_flip ${dev(op.disk)} ${op.offset}`;
  return `ih_swap ${dev(op.a.disk)} ${op.a.offset} ${dev(op.b.disk)} ${op.b.offset} ${op.length}`;
}

/** ih-io's own arguments, with the transfer disks replaced by the reproducer's files. */
function ioWords(argv: string[], devs: Record<string, string>, word: (a: string) => string): { words: string[]; payloadEnd: number; outBytes?: number } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const fromPayload = value('--src') !== undefined && value('--src') === devs.payload;
  const toOut = value('--out') !== undefined && value('--out') === devs.out;
  const words: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (fromPayload && a === '--src') words.push('--src', '"$R/payload.bin"');
    else if (toOut && a === '--out') words.push('--out', '"$W/out.bin"', '--out-offset', '0', '--dst-buffered');
    else if (toOut && a === '--out-offset') { /* the reproducer's out.bin starts at the read's first byte */ }
    else { words.push(word(a)); continue; }
    i++;
  }
  if (fromPayload && !argv.includes('--src-buffered')) words.push('--src-buffered');
  return {
    words,
    payloadEnd: fromPayload ? Number(value('--src-offset') ?? 0) + Number(value('--length') ?? 0) : 0,
    ...(toOut ? { outBytes: Number(value('--length') ?? 0) } : {}),
  };
}

/** check.awk's input: the first line says what the command is, the rest lists what is not the default. */
export function expectationText(e: CommandExpectation, extra: (hex: string) => number): string {
  switch (e.op) {
    case 'read': {
      const out = [`read ${e.offset} ${e.length} ${e.bs} ${e.blockSize}`];
      for (const [off, errnos] of e.fail) out.push(`fail ${off} ${errnos.join(',')}`);
      for (const [block, errno] of e.blocks) out.push(`block ${block} ${errno}`);
      for (const [block, count, src] of e.data) out.push(`data ${block} ${count} ${typeof src === 'string' ? `extra:${extra(src)}` : src < 0 ? 'zero' : src}`);
      return out.join('\n') + '\n';
    }
    case 'write': return `write ${e.offset} ${e.length} ${e.bs} ${e.errno}\n`;
    case 'read-unaligned': return `unaligned ${e.offset} ${e.errno}\n`;
    case 'discard': case 'flush': return `${e.op} ${e.errno}\n`;
    case 'status': return `status ${e.device} ${e.mismatches[0]} ${e.mismatches[1]}\n`;
    case 'refused': return `refused\n`;
  }
}

function header(input: ReproInput, tools: Set<string>): string {
  const r = input.result;
  const first = r.disagreements[0];
  const comment = (s: string) => s.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n');
  const diskLines = input.disks.map((d) => `ih_disk ${varName(d.name)} ${sq(d.name)} ${d.size}`);
  const unchecked = r.verdict === 'fail' && first !== undefined && !CHECKED.has(first.kind)
    ? `ih_say ${sq(`repro: note: the run's first disagreement (${first.kind}) is of a kind this script does not check; it replays the steps and checks reads, writes, status and the kernel log`)}\n` : '';
  return [
    '#!/bin/sh',
    comment([
      `Reproducer for ${input.cellId} (scenario ${input.scenarioId}), generated by integrity-harness from the run's`,
      'steps.jsonl and result.json (harness/repro/). Not written by hand: regenerate rather than edit.',
      '',
      `The run on ${r.kernelRelease ?? 'the kernel under test'}: ${r.verdict}${r.signature ? ` (${r.signature})` : ''}`,
      ...r.reason.split('\n').slice(0, 3).map((l) => `  ${l}`),
      ...(first ? [`First disagreement: step ${first.step} ${first.kind}${first.block !== undefined ? ` block ${first.block}` : ''}: expected ${first.expected}, found ${first.found}`] : []),
      '',
      'Run as root:  sh repro.sh',
      `  disks: loop devices over sparse files in a scratch directory, or IH_DISK_<name>=/dev/... (exactly that`,
      `  size; overwritten): ${input.disks.map((d) => `IH_DISK_${d.name} (${d.size} bytes)`).join(', ')}`,
      '  IH_REPRO_TIMEOUT=<s> per command (a command still running then is a hang), IH_REPRO_WORK=<dir> keeps the scratch,',
      '  IH_IO=<path> an ih-io binary (else ih-io on PATH, else io.c built with cc).',
      'It replays every command the run gave the guest (questions to the guest left out) and the host\'s byte',
      'changes on the raw disks, and checks each judged command against the model\'s answer stored beside it',
      '(expect-*.txt: errno per I/O and block, bytes per block from payload.bin), and the kernel log for an oops.',
      'Exit: 1 the bug reproduces (REPRODUCED: first disagreement), 0 it does not, 125 this machine lacks',
      'something (said on stderr), 2 IH_DISK_* is wrong.',
    ].join('\n')),
    'R=$(cd "$(dirname "$0")" && pwd)',
    '. "$R/lib.sh"',
    `IH_OOPS=${sq(oopsRegex())}`,
    `ih_setup ${input.stepTimeoutSec}`,
    ...(tools.size > 0 ? [`ih_need ${[...tools].sort().map(sq).join(' ')}`] : []),
    ...diskLines,
    unchecked.trimEnd(),
  ].filter((l) => l !== '').join('\n') + '\n';
}
