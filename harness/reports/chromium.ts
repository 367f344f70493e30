import { execa } from 'execa';
import { pathToFileURL } from 'node:url';
import { InfraError, tail } from '../errors.ts';

/** Debian's chromium, headless, as root in a container: no sandbox, no GPU. */
const BASE = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1'];

export async function chromiumAvailable(): Promise<boolean> {
  return (await execa('chromium', ['--version'], { reject: false })).exitCode === 0;
}

function url(file: string, hash?: string): string {
  return `${pathToFileURL(file).href}${hash !== undefined ? `#${hash}` : ''}`;
}

/** The DOM after the page's scripts ran (load event included). */
export async function renderDom(file: string, hash?: string): Promise<string> {
  const r = await execa('chromium', [...BASE, '--dump-dom', url(file, hash)], { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0 || !r.stdout.includes('<html')) throw new InfraError(`chromium --dump-dom ${file} failed (exit ${r.exitCode}): ${tail(r.stderr, 5)}`);
  return r.stdout;
}

export async function screenshot(file: string, out: string, opts: { hash?: string; width?: number; height?: number } = {}): Promise<void> {
  const r = await execa('chromium', [...BASE, `--window-size=${opts.width ?? 1280},${opts.height ?? 800}`, `--screenshot=${out}`, url(file, opts.hash)], { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new InfraError(`chromium --screenshot ${file} failed (exit ${r.exitCode}): ${tail(r.stderr, 5)}`);
}
