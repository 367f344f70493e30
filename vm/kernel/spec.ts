import { UsageError } from '../../harness/errors.ts';

/** What the user wrote after --kernel, parsed but not yet resolved to files. */
export type KernelSpec =
  | { kind: 'alias'; text: string; version: string }
  | { kind: 'deb'; text: string; pkg: string }
  | { kind: 'image'; text: string; path: string }
  | { kind: 'tree'; text: string; path: string; ref?: string }
  | { kind: 'src'; text: string; version: string };

const VERSION = /^\d+\.\d+$/;
const DEB_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export function parseKernelSpec(text: string): KernelSpec {
  const s = text.trim();
  if (s === '') throw new UsageError('--kernel: empty value (expected e.g. 6.1, deb:<package>, /path/to/bzImage, tree:<path>[@<ref>], src:6.1)');
  if (VERSION.test(s)) return { kind: 'alias', text: s, version: s };
  if (s.startsWith('deb:')) {
    const pkg = s.slice(4);
    if (!DEB_NAME.test(pkg)) throw new UsageError(`--kernel ${s}: '${pkg}' is not a Debian package name`);
    return { kind: 'deb', text: s, pkg };
  }
  if (s.startsWith('src:')) {
    const version = s.slice(4);
    if (!VERSION.test(version)) throw new UsageError(`--kernel ${s}: expected src:<major.minor>, e.g. src:6.1`);
    return { kind: 'src', text: s, version };
  }
  if (s.startsWith('tree:')) {
    const rest = s.slice(5);
    const at = rest.lastIndexOf('@');
    const path = at > 0 ? rest.slice(0, at) : rest;
    const ref = at > 0 ? rest.slice(at + 1) : undefined;
    if (path === '' || ref === '') throw new UsageError(`--kernel ${s}: expected tree:<path>[@<ref>]`);
    return ref === undefined ? { kind: 'tree', text: s, path } : { kind: 'tree', text: s, path, ref };
  }
  if (s.includes('/') || s.startsWith('.')) return { kind: 'image', text: s, path: s };
  throw new UsageError(
    `--kernel ${s}: not a kernel spec. Expected a version (6.1, 6.12), deb:<package>, a bzImage path, tree:<path>[@<ref>] or src:<version>`,
  );
}
