/**
 * KCIDB's *_url fields are URIs (format "uri": a scheme is required, so a bare relative path is not valid).
 * Files of the run are named relative to a base: by default the run directory as a file:// URL; with
 * --kcidb-url the place the run directory is published (e.g. a CI artifact store), where the same
 * relative paths hold.
 */
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../errors.ts';

export type UrlBase = string;

export function defaultUrlBase(runDir: string): UrlBase {
  return `${pathToFileURL(runDir).href.replace(/\/?$/, '/')}`;
}

export function parseUrlBase(text: string, flag = '--kcidb-url'): UrlBase {
  let u: URL;
  try {
    u = new URL(text);
  } catch (e) {
    throw new UsageError(`${flag} ${text}: not an absolute URL (expected e.g. https://ci.example.org/artifacts/<run>/ or file:///srv/runs/<run>/)`, { cause: e });
  }
  return u.href.replace(/\/?$/, '/');
}

/** The URL of a file given relative to the run directory. */
export function runFileUrl(base: UrlBase, rel: string): string {
  return new URL(rel.split('/').map(encodeURIComponent).join('/'), base).href;
}
