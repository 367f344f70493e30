// Explains why a patch did not apply: which file, which hunk, and the hunk's text.

export interface Hunk {
  file: string;
  index: number; // 1-based within its file, as GNU patch counts
  header: string;
  lines: string[];
}

function stripPrefix(name: string): string {
  const clean = name.split('\t')[0]?.trim() ?? '';
  return clean.replace(/^[ab]\//, '');
}

export function parseHunks(patchText: string): Hunk[] {
  const hunks: Hunk[] = [];
  let file = '';
  let index = 0;
  let current: Hunk | undefined;
  for (const line of patchText.split('\n')) {
    if (line.startsWith('+++ ')) {
      file = stripPrefix(line.slice(4));
      index = 0;
      current = undefined;
    } else if (line.startsWith('@@')) {
      index += 1;
      current = { file, index, header: line, lines: [] };
      hunks.push(current);
    } else if (line.startsWith('diff ') || line.startsWith('--- ')) {
      current = undefined;
    } else if (current && /^[ +\-\\]/.test(line)) {
      current.lines.push(line);
    }
  }
  return hunks;
}

const MAX_HUNK_LINES = 20;

// patchOutput: what `patch --dry-run` printed.
export function patchFailureDetail(patchText: string, patchOutput: string): string {
  const hunks = parseHunks(patchText);
  const details: string[] = [];
  let file = '';
  for (const line of patchOutput.split('\n')) {
    const checking = /^(?:checking|patching) file (.+)$/.exec(line);
    if (checking?.[1] !== undefined) file = checking[1].trim();
    const failed = /^Hunk #(\d+) FAILED at (\d+)/.exec(line);
    if (failed?.[1] !== undefined) {
      const index = Number(failed[1]);
      const hunk = hunks.find((h) => h.file === file && h.index === index);
      const body = hunk ? [hunk.header, ...hunk.lines.slice(0, MAX_HUNK_LINES)].join('\n') : '(hunk text not found)';
      details.push(`${file}: hunk #${index} rejected (expected near line ${failed[2]}):\n${body}`);
    }
    if (/can't find file to patch/.test(line)) details.push(`a file it patches does not exist: ${line.trim()}`);
    if (/Reversed \(or previously applied\) patch detected/.test(line)) {
      details.push(`${file}: already applied (or reversed)`);
    }
  }
  if (details.length === 0) details.push(patchOutput.trim().split('\n').slice(-10).join('\n'));
  return details.join('\n');
}
