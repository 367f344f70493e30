// Fetches a catalog alias's kernel.org release tarball and places it where the `src:`-style tarball build
// reads it (<cache>/tarballs/..., vm/kernel/tarball.ts), only after it passed its checks:
//   - the sha256 that sha256sums.asc gives for it (the download is refused on a mismatch), and
//   - a good signature by a key in the kernel.org keyring: on the clear-signed list, or on the tarball's own
//     .tar.sign (which covers the uncompressed .tar; Torvalds and Kroah-Hartman sign those).
// A list with a BAD signature stops everything; a list signed by a key the keyring lacks (kernel.org's
// checksum autosigner, which is not shipped) leaves the .tar.sign to prove where the tarball came from.
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { fetchBytes } from '../fetch/download.ts';
import { NotFoundError, VerificationError } from '../fetch/errors.ts';
import { verifyClearsigned, verifyDetachedOver, type GoodSignature } from '../fetch/gpgv.ts';
import { kernelOrgKeyring } from '../fetch/keyrings.ts';
import { onMirror, type Mirrors } from '../fetch/mirrors.ts';
import type { ProgressFactory } from '../fetch/progress.ts';
import { fetchVerified } from '../fetch/store.ts';
import { checksumFor, signName, tarballFiles, tarballName, type TarballEntry } from './tarball.ts';

export interface KernelOrgFetch {
  mirrors: Mirrors;
  cacheRoot: string;
  progress?: ProgressFactory;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface FetchedTarball {
  tarball: string;
  /** How its origin was proven, for the kernel's provenance line. */
  proof: string;
}

async function writeAtomically(file: string, bytes: Buffer | string): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, file);
}

function decompressor(tarball: string): [string, ...string[]] {
  if (tarball.endsWith('.xz')) return ['xz', '-dc', tarball];
  if (tarball.endsWith('.gz')) return ['gzip', '-dc', tarball];
  throw new VerificationError(`${tarball}: no .tar.sign check for this compression`, 'other');
}

/** Checks sha256sums.asc's signature; a key the keyring lacks is not fatal (the .tar.sign may still prove it). */
async function listSignature(file: string, url: string, keyring: string): Promise<{ good?: GoodSignature & { text: string }; why?: string }> {
  try {
    return { good: await verifyClearsigned(file, url, keyring, 'sha256sums.asc') };
  } catch (e) {
    if (e instanceof VerificationError && (e.kind === 'unknown-key' || e.kind === 'unsigned')) return { why: e.message };
    throw e;
  }
}

export async function fetchKernelOrgTarball(entry: TarballEntry, f: KernelOrgFetch): Promise<FetchedTarball> {
  const log = f.log ?? (() => undefined);
  const files = tarballFiles(entry, f.cacheRoot);
  const name = tarballName(entry.url);
  const tarUrl = onMirror(entry.url, 'kernel.org', f.mirrors);
  const listUrl = onMirror(entry.checksums, 'kernel.org', f.mirrors);
  const signUrl = tarUrl.replace(/\.tar\.[a-z0-9]+$/, '.tar.sign');
  const keyring = await kernelOrgKeyring(f.cacheRoot, f.env);

  const work = join(f.cacheRoot, 'downloads', 'work', `${name}-${process.pid}`);
  await fs.mkdir(work, { recursive: true });
  try {
    const listFile = join(work, 'sha256sums.asc');
    const listBytes = await fetchBytes(listUrl);
    await fs.writeFile(listFile, listBytes);
    const list = await listSignature(listFile, listUrl, keyring);
    // Only the signed text counts when the signature is good; otherwise the list is integrity, not proof.
    const expected = checksumFor(list.good?.text ?? listBytes.toString('utf8'), name);
    if (expected === undefined) throw new VerificationError(`sha256sums.asc (${listUrl}) has no sha256 line for ${name}`, 'other');
    log(`downloading ${tarUrl} (sha256 ${expected.slice(0, 16)}… from ${list.good !== undefined ? 'the signed ' : ''}sha256sums.asc)`);
    const stored = await fetchVerified({
      url: tarUrl, name, sha256: expected, expectedFrom: `sha256sums.asc at ${listUrl}`, cacheRoot: f.cacheRoot,
      ...(f.progress !== undefined ? { progress: f.progress } : {}),
    });

    const proofs: string[] = [];
    if (list.good !== undefined) proofs.push(`sha256sums.asc signed by ${list.good.signer} (${list.good.fingerprint})`);
    let signWhy: string | undefined;
    const sigFile = join(work, signName(name));
    try {
      await fs.writeFile(sigFile, await fetchBytes(signUrl));
      const sig = await verifyDetachedOver(sigFile, decompressor(stored), signUrl, keyring, `${name.replace(/\.[a-z0-9]+$/, '')} (.tar.sign)`);
      proofs.push(`.tar.sign by ${sig.signer} (${sig.fingerprint})`);
    } catch (e) {
      if (e instanceof VerificationError && e.kind === 'bad') throw e;
      if (!(e instanceof NotFoundError || e instanceof VerificationError)) throw e;
      signWhy = e.message;
    }
    if (proofs.length === 0) {
      throw new VerificationError(
        `${name}: its sha256 matches sha256sums.asc, but nothing proves where it came from, so it is not used: ` +
          `${list.why ?? 'the list is unsigned'}; ${signWhy ?? 'no .tar.sign'}. ` +
          `Give a keyring holding the signer's key with IH_KERNEL_ORG_KEYRING=<file> (kernel.org's keys: https://www.kernel.org/signature.html)`,
        'unknown-key',
      );
    }
    // The checksum list and signature go beside the tarball, so the build's own check (verifyTarball) sees them too.
    await writeAtomically(files.checksums, listBytes);
    if (signWhy === undefined) await writeAtomically(join(dirname(files.tarball), signName(name)), await fs.readFile(sigFile));
    const tmp = `${files.tarball}.tmp-${process.pid}`;
    await fs.rm(tmp, { force: true });
    await fs.link(stored, tmp).catch(() => fs.copyFile(stored, tmp));
    await fs.rename(tmp, files.tarball);
    return { tarball: files.tarball, proof: proofs.join('; ') };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
