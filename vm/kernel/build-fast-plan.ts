// Decides whether a patched build seeded from a base build dir may skip kbuild's full descent (~390
// directories, ~15 CPU s with nothing to do) and instead compile only the objects the patch changed, then
// relink. Pure: the caller reads the patch texts, the build dir's dependency files and vmlinux.a's members.
// The rules are conservative: anything but existing C/assembler sources whose every dependent is an object
// linked from the thin archive vmlinux.a takes the full make, because only there does relinking vmlinux.o
// pick up a rebuilt object without remaking any archive (its members are paths, not copies).

export const MAX_FAST_OBJECTS = 20;

// Sources kbuild compiles into objects. Everything else (Makefile, Kbuild, Kconfig, *.lds.S outputs aside,
// tables, scripts/ and tools/ host programs, firmware, certificates) feeds generators whose inputs kbuild does
// not all record, so the fast path cannot tell what they affect.
const SOURCE_FILE_RE = /\.(c|h|S)$/;
const HOST_TREE_RE = /^(scripts|tools)\//;
// What make and the fast path's makefile can take literally as a goal.
const SAFE_TARGET_RE = /^[\w.,+/-]+$/;

export type PatchFiles = { files: string[] } | { reason: string };

interface FileSection {
  oldName: string | null;
  newName: string | null;
  headers: string[];
}

// `--- a/x\t2024-01-01` -> `x` (patch -p1 strips the first component, whatever it is); /dev/null -> null.
function diffName(field: string): string | null {
  const name = (field.split('\t')[0] ?? '').trim();
  if (name === '/dev/null') return null;
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(slash + 1);
}

// Splits unified diffs (plain or git) into per-file sections. Hunk bodies are skipped by their line counts,
// so a removed line that starts with "-- " is never mistaken for a file header.
function fileSections(text: string): FileSection[] {
  const sections: FileSection[] = [];
  // Header lines since the last `diff` line that no ---/+++ pair has claimed yet.
  let pending: string[] = [];
  // A git section without ---/+++ (pure rename, mode change, binary) is its headers alone.
  const flush = () => {
    if (pending.some((l) => !l.startsWith('diff '))) sections.push({ oldName: null, newName: null, headers: pending });
    pending = [];
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
    if (hunk) {
      let oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      let newLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      while ((oldLeft > 0 || newLeft > 0) && i + 1 < lines.length) {
        const body = lines[i + 1]!;
        i += 1;
        if (body.startsWith('\\')) continue;
        if (!body.startsWith('+')) oldLeft -= 1;
        if (!body.startsWith('-')) newLeft -= 1;
      }
    } else if (line.startsWith('diff ')) {
      flush();
      pending = [line];
    } else if (line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ')) {
      sections.push({ oldName: diffName(line.slice(4)), newName: diffName(lines[i + 1]!.slice(4)), headers: pending });
      pending = [];
      i += 1;
    } else if (/^(new file mode|deleted file mode|rename (from|to)|copy (from|to)|old mode|new mode|Binary files|GIT binary patch)/.test(line)) {
      pending.push(line);
    }
  }
  flush();
  return sections;
}

function gitHeaderReason(headers: readonly string[], name: string): string | undefined {
  const value = (prefix: string) => headers.find((h) => h.startsWith(prefix))?.slice(prefix.length).trim();
  // `diff --git a/x b/x` -> x, for sections without ---/+++ lines.
  const fromDiffLine = value('diff --git ')?.split(' ').pop()?.replace(/^[^/]*\//, '');
  const what = name !== '' ? name : (fromDiffLine ?? '?');
  const renamed = value('rename from ') ?? value('copy from ');
  if (renamed !== undefined) return `the patch renames or copies ${renamed} to ${value('rename to ') ?? value('copy to ') ?? '?'}`;
  if (value('new file mode') !== undefined) return `the patch creates ${what}`;
  if (value('deleted file mode') !== undefined) return `the patch deletes ${what}`;
  if (value('old mode') !== undefined || value('new mode') !== undefined) return `the patch changes the mode of ${what}`;
  if (value('Binary files') !== undefined || value('GIT binary patch') !== undefined) return `the patch changes the binary file ${what}`;
  return undefined;
}

/** The files the patches modify in place, or why the patches do more than that. */
export function patchedFilesOf(patchTexts: readonly string[]): PatchFiles {
  const files = new Set<string>();
  for (const text of patchTexts) {
    for (const section of fileSections(text)) {
      const headerReason = gitHeaderReason(section.headers, section.newName ?? section.oldName ?? '');
      if (headerReason !== undefined) return { reason: headerReason };
      const { oldName, newName } = section;
      if (oldName === null && newName === null) continue;
      if (oldName === null) return { reason: `the patch creates ${newName}` };
      if (newName === null) return { reason: `the patch deletes ${oldName}` };
      if (oldName !== newName) return { reason: `the patch renames ${oldName} to ${newName}` };
      files.add(newName);
    }
  }
  if (files.size === 0) return { reason: 'the patches change no file' };
  return { files: [...files].sort() };
}

/** Why a patched file rules the fast path out by its name alone, or undefined. */
export function nonSourceReason(file: string): string | undefined {
  if (HOST_TREE_RE.test(file)) return `the patch touches ${file} (scripts/ and tools/ build host programs)`;
  if (!SOURCE_FILE_RE.test(file)) return `the patch touches ${file} (not a .c, .h or .S file)`;
  return undefined;
}

export interface DependencyEntry {
  target: string;
  deps: string[];
}

/**
 * The targets and dependencies a kbuild `.foo.o.cmd` file (`source_<t> := x`, `deps_<t> := \` lines) or a
 * make dependency file (`.foo.d`: `t: a b \`) records. `$(wildcard ...)` entries are configuration options
 * and optional files, not inputs that exist.
 */
export function parseDependencyText(text: string): DependencyEntry[] {
  const entries = new Map<string, string[]>();
  const add = (target: string, words: string[]) => {
    const list = entries.get(target) ?? [];
    list.push(...words);
    entries.set(target, list);
  };
  // Join backslash continuations into logical lines.
  const logical = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of logical) {
    if (line.startsWith('cmd_') || line.startsWith('savedcmd_')) continue;
    const variable = /^(source|deps)_(\S+)\s*:=(.*)$/.exec(line);
    if (variable) {
      add(variable[2]!, wordsOf(variable[3]!));
      continue;
    }
    // A make rule `target: deps`; kbuild's own `t: $(deps_t)` and `$(deps_t):` lines hold no paths.
    const rule = /^([^\s:$#=][^:=]*?):(?!=)(.*)$/.exec(line);
    if (rule) {
      const words = wordsOf(rule[2]!);
      for (const target of rule[1]!.trim().split(/\s+/)) if (words.length > 0) add(target, words);
    }
  }
  return [...entries].map(([target, deps]) => ({ target, deps }));
}

function wordsOf(text: string): string[] {
  const withoutFunctions = text.replace(/\$\((wildcard|deps_)[^)]*\)/g, ' ');
  return withoutFunctions.split(/\s+/).filter((w) => w !== '' && !w.includes('$('));
}

export type FastPlan = { kind: 'fast'; objects: string[]; reason: string } | { kind: 'full'; reason: string };

export interface PlanInput {
  /** Result of patchedFilesOf. */
  patched: PatchFiles;
  /** For each patched file (source-relative path), the build-dir targets that depend on it. */
  dependents: ReadonlyMap<string, readonly string[]>;
  /** Patched files that are not regular files in both the base and the patched tree. */
  missing: readonly string[];
  /** Members of the build dir's vmlinux.a (paths relative to the build dir). */
  vmlinuxMembers: ReadonlySet<string>;
  maxObjects?: number;
}

export function planFastRebuild(input: PlanInput): FastPlan {
  if ('reason' in input.patched) return { kind: 'full', reason: input.patched.reason };
  const files = input.patched.files;
  for (const file of files) {
    const reason = nonSourceReason(file);
    if (reason !== undefined) return { kind: 'full', reason };
  }
  if (input.missing.length > 0) return { kind: 'full', reason: `${input.missing[0]} is not a regular file in both the base and the patched tree` };
  const objects = new Set<string>();
  for (const file of files) {
    const targets = input.dependents.get(file) ?? [];
    // No recorded dependent: the base build never compiled it, or something read it without recording
    // it; only the full make can say which.
    if (targets.length === 0) return { kind: 'full', reason: `no build target records a dependency on ${file}` };
    for (const target of targets) {
      if (!input.vmlinuxMembers.has(target)) return { kind: 'full', reason: `${target} depends on ${file} and is not an object in vmlinux.a` };
      if (!SAFE_TARGET_RE.test(target)) return { kind: 'full', reason: `${target} depends on ${file} and its name is not a plain path` };
      objects.add(target);
    }
  }
  const max = input.maxObjects ?? MAX_FAST_OBJECTS;
  const sorted = [...objects].sort();
  if (sorted.length > max) return { kind: 'full', reason: `${sorted.length} objects depend on the patch (more than ${max})` };
  const noun = sorted.length === 1 ? 'object depends' : 'objects depend';
  return { kind: 'fast', objects: sorted, reason: `${sorted.length} ${noun} on the patch (${sorted.join(', ')})` };
}
