// Download failures, kept apart by what the user does next: a file the archive does not have (try another
// source), an unreachable or failing server (offline: provide the kernel another way), or a file that fails
// its check (never trusted; the message names the file, the URL, the expected and the actual value).

export class DownloadError extends Error {
  override name = 'DownloadError';
  readonly url: string;

  constructor(url: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.url = url;
  }
}

/** The server answered 404/410: the archive has no such file (e.g. no prebuilt package for this release). */
export class NotFoundError extends DownloadError {
  override name = 'NotFoundError';
}

/**
 * A downloaded file's checksum or signature is not the one it must have. `kind` tells a forged or altered
 * file (bad, checksum) from one the keyring cannot judge (unknown-key, unsigned) and from a missing tool.
 */
export class VerificationError extends Error {
  override name = 'VerificationError';
  readonly kind: 'bad' | 'checksum' | 'unknown-key' | 'unsigned' | 'tool' | 'other';

  constructor(message: string, kind: VerificationError['kind'] = 'other') {
    super(message);
    this.kind = kind;
  }
}
