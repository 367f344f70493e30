/** Dotted version numbers ("6.1", "1.10.0") as the kernel and device-mapper print them, compared numerically. */

export function parseVersion(text: string): number[] {
  return text.replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10)).filter((n) => Number.isFinite(n));
}

/** <0, 0, >0 like a comparator; missing trailing parts count as 0 ("6.1" == "6.1.0"). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
