// Reads lcov's tracefiles (geninfo/lcov output, the format genhtml reads: SF/FN/FNDA/DA/BRDA records) into
// per-file counts. The counters themselves are turned into tracefiles by lcov's own tools (capture.ts).

export interface FileCoverage {
  /** line -> execution count */
  lines: Map<number, number>;
  /** function name -> { first line, execution count } */
  functions: Map<string, { line: number; count: number }>;
  /** "<line>,<block>,<branch>" -> taken (0 when never taken or not evaluated) */
  branches: Map<string, number>;
}

/** Source file -> coverage; records of one file in several sections (several tests) are added up. */
export type Tracefile = Map<string, FileCoverage>;

export function parseTracefile(text: string): Tracefile {
  const files: Tracefile = new Map();
  let cur: FileCoverage | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const rest = colon < 0 ? '' : line.slice(colon + 1);
    if (tag === 'SF') {
      cur = files.get(rest) ?? { lines: new Map(), functions: new Map(), branches: new Map() };
      files.set(rest, cur);
    } else if (tag === 'end_of_record') {
      cur = undefined;
    } else if (cur === undefined) {
      continue;
    } else if (tag === 'DA') {
      const [ln, count] = rest.split(',');
      cur.lines.set(Number(ln), (cur.lines.get(Number(ln)) ?? 0) + Number(count));
    } else if (tag === 'FN') {
      const [ln, name] = splitFirst(rest);
      if (!cur.functions.has(name)) cur.functions.set(name, { line: Number(ln), count: 0 });
    } else if (tag === 'FNDA') {
      const [count, name] = splitFirst(rest);
      const f = cur.functions.get(name) ?? { line: 0, count: 0 };
      f.count += Number(count);
      cur.functions.set(name, f);
    } else if (tag === 'BRDA') {
      const parts = rest.split(',');
      const key = parts.slice(0, 3).join(',');
      const taken = parts[3] === '-' ? 0 : Number(parts[3]);
      cur.branches.set(key, (cur.branches.get(key) ?? 0) + taken);
    }
  }
  return files;
}

function splitFirst(s: string): [string, string] {
  const i = s.indexOf(',');
  return [s.slice(0, i), s.slice(i + 1)];
}

export interface Ratio {
  hit: number;
  found: number;
  /** hit / found in percent, one decimal; null when nothing was found */
  pct: number | null;
}

export function ratio(hit: number, found: number): Ratio {
  return { hit, found, pct: found === 0 ? null : Math.round((1000 * hit) / found) / 10 };
}

export function fileRatios(f: FileCoverage): { lines: Ratio; functions: Ratio; branches: Ratio } {
  const count = (values: Iterable<number>) => {
    let hit = 0;
    let found = 0;
    for (const v of values) {
      found += 1;
      if (v > 0) hit += 1;
    }
    return ratio(hit, found);
  };
  return {
    lines: count(f.lines.values()),
    functions: count([...f.functions.values()].map((x) => x.count)),
    branches: count(f.branches.values()),
  };
}

/** "file:line" of every line executed at least once. */
export function executedLines(t: Tracefile): Set<string> {
  const out = new Set<string>();
  for (const [file, f] of t) for (const [ln, n] of f.lines) if (n > 0) out.add(`${file}:${ln}`);
  return out;
}

/** "file\tfunction" of every function entered at least once. */
export function enteredFunctions(t: Tracefile): Set<string> {
  const out = new Set<string>();
  for (const [file, f] of t) for (const [name, x] of f.functions) if (x.count > 0) out.add(`${file}\t${name}`);
  return out;
}
