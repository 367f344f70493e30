/**
 * The oops as a kernel developer wants it in a mail: from the first crash line through the call trace,
 * without console timestamps, register dumps, code bytes, unreliable ('?') frames or the harness's own
 * markers. Function+offset/size stays: it is what scripts/decode_stacktrace.sh needs.
 */
import { scanConsole } from '../console.ts';

const TIMESTAMP = /^\[\s*\d+\.\d+\]\s?/;
const CALLER = /^\[\s*[CT]\d+\]\s?/;
/** Register dump and code bytes: addresses that differ on every run and say nothing without the binary. */
const NOISE = /^(RSP|RAX|RDX|RBP|R\d+|FS|CS|CR2|DR\d|PKRU|Code):|^(RSP|RAX|RDX|RBP|R\d+):\s|^PGD |^ih: /;
const MAX_LINES = 60;

function clean(line: string): string {
  return line.replace(/\r$/, '').replace(TIMESTAMP, '').replace(CALLER, '').replace(/\t/g, ' ').replace(/[^\x20-\x7e]/g, '?').trimEnd();
}

/** The trimmed oops of a console log, or undefined when the console shows none. */
export function trimOops(consoleText: string): string[] | undefined {
  const finding = scanConsole(consoleText);
  if (finding === undefined || finding.kind !== 'crash') return undefined;
  const lines = consoleText.split('\n').map(clean);
  const start = lines.findIndex((l) => l.includes(finding.line.replace(/\r$/, '')));
  if (start < 0) return [clean(finding.line)];
  const out: string[] = [];
  for (const line of lines.slice(start)) {
    if (out.length >= MAX_LINES) break;
    const t = line.trimStart();
    if (t === '' || NOISE.test(t) || /^\?\s/.test(t)) continue;
    out.push(line);
    if (/^---\[ end trace/.test(t) || /^Kernel panic - not syncing/.test(t)) break;
  }
  return out;
}

/** The last lines of a console (for a hang), cleaned the same way. */
export function consoleTail(consoleText: string, n = 15): string[] {
  return consoleText.trimEnd().split('\n').map(clean).filter((l) => l.trim() !== '' && !l.startsWith('ih: ')).slice(-n);
}
