// Signature checks with gpgv against a keyring file (never the user's own keyring or trust database): a
// clear-signed list yields only the text the signature covers; a detached signature checks a file or stream.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { VerificationError } from './errors.ts';
import { sha256File } from './store.ts';

export interface GoodSignature {
  /** Primary key fingerprint of the signer (gpgv's VALIDSIG). */
  fingerprint: string;
  signer: string;
}

const GPGV_MISSING = 'gpgv is not installed (apt-get install gpgv)';

function judge(what: string, url: string, keyring: string, status: string, exitCode: number | undefined): GoodSignature {
  if (/^\[GNUPG:\] BADSIG/m.test(status)) {
    throw new VerificationError(`${what}: BAD signature (from ${url}); the file was altered after signing and is not used`, 'bad');
  }
  const missing = /^\[GNUPG:\] NO_PUBKEY (\S+)/m.exec(status);
  if (missing !== null) {
    throw new VerificationError(`${what} (from ${url}): signed by key ${missing[1]}, which is not in the keyring ${keyring}; the file is not used`, 'unknown-key');
  }
  const valid = /^\[GNUPG:\] VALIDSIG \S+ .* ([0-9A-F]{40})\s*$/m.exec(status);
  const good = /^\[GNUPG:\] GOODSIG \S+ (.*)$/m.exec(status);
  if (exitCode === 0 && valid !== null && good !== null) return { fingerprint: valid[1]!, signer: good[1]!.trim() };
  if (/^\[GNUPG:\] NODATA/m.test(status)) throw new VerificationError(`${what} (from ${url}): carries no signature; the file is not used`, 'unsigned');
  throw new VerificationError(`${what} (from ${url}): signature not verified (gpgv exit ${exitCode}): ${status.trim().split('\n').slice(-3).join(' | ')}`);
}

/**
 * Judges a file an archive signs with several keys at once (Debian's Release: the current and the previous
 * archive key): one valid signature by a key in the keyring suffices, a key that has expired since it signed
 * still counts (EXPKEYSIG, as apt counts it for old snapshots), and any BAD signature refuses the file.
 * gpgv exits 2 when one of the signers is missing, so its status lines decide, not its exit code.
 */
function judgeAny(what: string, url: string, keyring: string, status: string, exitCode: number | undefined): GoodSignature {
  if (/^\[GNUPG:\] BADSIG/m.test(status)) {
    throw new VerificationError(`${what}: BAD signature (from ${url}); the file was altered after signing and is not used`, 'bad');
  }
  const valid = /^\[GNUPG:\] VALIDSIG \S+ .* ([0-9A-F]{40})\s*$/m.exec(status);
  const good = /^\[GNUPG:\] (?:GOODSIG|EXPKEYSIG) \S+ (.*)$/m.exec(status);
  if (valid !== null && good !== null) return { fingerprint: valid[1]!, signer: good[1]!.trim() };
  return judge(what, url, keyring, status, exitCode);
}

async function runGpgv(args: string[]) {
  const r = await execa('gpgv', ['--status-fd', '1', ...args], { reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new VerificationError(GPGV_MISSING, 'tool');
  return r;
}

/** Checks a clear-signed file; returns the signer and only the signed text (anything outside the signature is dropped). */
export async function verifyClearsigned(file: string, url: string, keyring: string, what = file): Promise<GoodSignature & { text: string }> {
  const out = `${file}.signed-${process.pid}`;
  try {
    const r = await runGpgv(['--keyring', keyring, '--output', out, file]);
    const sig = judge(what, url, keyring, String(r.stdout ?? ''), r.exitCode);
    return { ...sig, text: await fs.readFile(out, 'utf8') };
  } finally {
    await fs.rm(out, { force: true });
  }
}

/** Like verifyClearsigned, for a file signed by several keys of which one in the keyring suffices (judgeAny). */
export async function verifyClearsignedByAny(file: string, url: string, keyring: string, what = file): Promise<GoodSignature & { text: string }> {
  const out = `${file}.signed-${process.pid}`;
  try {
    const r = await runGpgv(['--keyring', keyring, '--output', out, file]);
    const sig = judgeAny(what, url, keyring, String(r.stdout ?? ''), r.exitCode);
    return { ...sig, text: await fs.readFile(out, 'utf8') };
  } finally {
    await fs.rm(out, { force: true });
  }
}

/** Like verifyDetached, for a signature file holding several signatures of which one in the keyring suffices. */
export async function verifyDetachedByAny(sigFile: string, dataFile: string, url: string, keyring: string, what = dataFile): Promise<GoodSignature> {
  const r = await runGpgv(['--keyring', keyring, sigFile, dataFile]);
  return judgeAny(what, url, keyring, String(r.stdout ?? ''), r.exitCode);
}

/** Checks a detached signature over a file. */
export async function verifyDetached(sigFile: string, dataFile: string, url: string, keyring: string, what = dataFile): Promise<GoodSignature> {
  const r = await runGpgv(['--keyring', keyring, sigFile, dataFile]);
  return judge(what, url, keyring, String(r.stdout ?? ''), r.exitCode);
}

/** Checks a detached signature over data a command writes (e.g. `xz -dc` of a kernel.org tarball, whose .tar.sign covers the .tar). */
export async function verifyDetachedOver(sigFile: string, producer: [string, ...string[]], url: string, keyring: string, what: string): Promise<GoodSignature> {
  const [cmd, ...args] = producer;
  const r = await execa(cmd, args, { reject: false, buffer: { stdout: false } }).pipe('gpgv', ['--status-fd', '1', '--keyring', keyring, sigFile, '-'], { reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new VerificationError(GPGV_MISSING, 'tool');
  return judge(what, url, keyring, String(r.stdout ?? ''), r.exitCode);
}

/**
 * The binary packets of an ASCII-armored key block (RFC 4880, section 6): the base64 between the armor headers'
 * blank line and the checksum line. gpgv reads binary keyrings only; this spares needing gpg to convert.
 */
export function dearmor(text: string, file: string): Buffer {
  const blocks = [...text.matchAll(/-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n([\s\S]*?)-----END PGP PUBLIC KEY BLOCK-----/g)];
  if (blocks.length === 0) throw new VerificationError(`keyring ${file}: no PGP PUBLIC KEY BLOCK in it`, 'other');
  return Buffer.concat(blocks.map((m) => {
    const lines = m[1]!.split(/\r?\n/);
    const body = lines.slice(lines.findIndex((l) => l.trim() === '') + 1).filter((l) => !l.startsWith('=')).join('');
    return Buffer.from(body, 'base64');
  }));
}

/**
 * A keyring file gpgv can read, made once per content into <cache>/keyrings from the given files (armored key
 * files, as the repository keeps them for review, or binary keyrings, used as they are).
 */
export async function binaryKeyring(files: readonly string[], cacheRoot: string): Promise<string> {
  const parts: Buffer[] = [];
  for (const f of files) {
    const bytes = await fs.readFile(f).catch((e: unknown) => {
      throw new VerificationError(`keyring ${f}: ${(e as Error).message}`, 'other');
    });
    const armored = bytes.subarray(0, 256).toString('latin1').includes('-----BEGIN PGP');
    parts.push(armored ? dearmor(bytes.toString('latin1'), f) : bytes);
  }
  const joined = Buffer.concat(parts);
  const dir = join(cacheRoot, 'keyrings');
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `tmp-${process.pid}.gpg`);
  await fs.writeFile(tmp, joined);
  const out = join(dir, `${(await sha256File(tmp)).slice(0, 16)}.gpg`);
  await fs.rename(tmp, out);
  return out;
}
