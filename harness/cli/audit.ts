/**
 * npm run audit -- <image> [--hash ALG] [--key HEX | --volume-key-file F] [--cipher SPEC] [--meta <image>] [--json]
 *
 * Audits a raw dm-integrity image (optionally with dm-crypt AEAD on top, or a LUKS2 --integrity image,
 * recognised by its header) with the reference model and prints a per-area summary and each disagreement.
 * Exit 0 clean, 1 disagreements, 255 bad input.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ModelInputError } from '../model/errors.ts';
import { auditImage, type AuditCliOptions } from '../model/audit-image.ts';
import type { IntegrityAuditReport } from '../model/integrity/audit.ts';
import { INTEGRITY_HASHES } from '../model/integrity/tags.ts';
import type { Luks2AuditReport } from '../model/luks2/audit.ts';

const EXIT_CLEAN = 0;
const EXIT_DISAGREEMENTS = 1;
const EXIT_BAD_INPUT = 255;

function parseUint(what: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be a non-negative integer`);
    return Number(v);
  };
}

function program(): Command {
  return new Command('audit')
    .description('Audit a raw dm-integrity (or LUKS2/dm-crypt AEAD) image against the reference model')
    .argument('<image>', 'raw image of the device dm-integrity sits on (deactivated: journal drained)')
    .option('--hash <alg>', `internal hash: ${INTEGRITY_HASHES.join(', ')} (or the kernel's names, hmac(sha256) ...)`)
    .option('--key <hex>', 'HMAC key for an hmac --hash; table key for --cipher; volume key for a LUKS2 image')
    .option('--volume-key-file <file>', 'the same key as raw bytes in a file (cryptsetup --volume-key-file)')
    .option('--cipher <spec>', 'dm-crypt AEAD cipher on top (no internal hash): capi:gcm(aes)-random, capi:authenc(hmac(sha256),xts(aes))-random, capi:rfc7539(chacha20,poly1305)-random')
    .option('--meta <image>', 'separate metadata device image')
    .option('--start <sectors>', 'dm-integrity offset on the device in 512-byte sectors (LUKS2: read from the header)', parseUint('--start'))
    .option('--iv-offset <sectors>', 'dm-crypt iv_offset (no effect on the -random AEAD ciphers: the AAD sector is target-relative)', parseUint('--iv-offset'))
    .option('--sector-size <bytes>', 'dm-crypt sector_size (default: the dm-integrity block size)', parseUint('--sector-size'))
    .option('--allow-discards', 'the device was opened with allow_discards: discard filler tags are fine')
    .option('--no-wipe', 'formatted with --no-wipe / --integrity-no-wipe: never-written blocks (zero data, zero tag) are fine')
    .option('--max <n>', 'list at most n disagreements (all are counted)', parseUint('--max'), 50)
    .option('--json', 'print the whole report as JSON')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `audit: ${s}` : s) });
}

export function formatReport(r: IntegrityAuditReport | Luks2AuditReport, max: number): string {
  const lines: string[] = [];
  const sb = r.superblock;
  const g = r.geometry;
  lines.push(`${r.image}${r.meta ? ` (metadata: ${r.meta})` : ''}`);
  if ('luks2' in r) {
    const l = r.luks2;
    lines.push(`  LUKS2 ${l.uuid}: data segment at ${l.segmentOffset}, ${l.encryption} + ${l.integrity} (${l.cryptSpec}), ${l.sectorSize}-byte sectors, iv_tweak ${l.ivTweak}`);
  }
  lines.push(
    `  superblock v${sb.version} flags 0x${sb.flags.toString(16)} tag ${sb.tagSize} B, block ${g.sectorsPerBlock * 512} B, ` +
      `interleave ${g.interleaveSectors}, ${sb.journalSections} journal sections, ${g.providedDataSectors} data sectors, start ${g.startSector}`,
  );
  for (const a of r.areas) lines.push(`  ${`${a.kind}${a.device === 'meta' ? ' (meta)' : ''}`.padEnd(18)} ${String(a.count).padStart(6)} x  ${a.bytes} bytes`);
  const b = r.blocks;
  lines.push(`  blocks: ${b.total} total, ${b.valid} valid, ${b.filler} discard filler, ${b.blank} blank, ${b.invalid} invalid`);
  for (const d of r.disagreements.slice(0, max)) {
    const where = d.sector === null ? 'superblock' : `sector ${d.sector} (block ${d.block})`;
    lines.push(`  DISAGREE ${d.kind} at ${where}, offset ${d.offset}: expected ${d.expected}, found ${d.found}`);
  }
  const hidden = r.disagreementCount - Math.min(max, r.disagreements.length);
  if (hidden > 0) lines.push(`  ... and ${hidden} more`);
  if (r.disagreementCount > 0 && b.valid === 0 && b.total > 0) lines.push('luks2' in r ? '  hint: no block verifies; wrong volume key?' : '  hint: no block verifies; wrong --hash, --key, --cipher or --start?');
  lines.push(r.disagreementCount ? `${r.disagreementCount} disagreement(s)` : 'clean');
  return lines.join('\n');
}

export function main(argv: string[]): number {
  const cmd = program();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_CLEAN : EXIT_BAD_INPUT;
    throw e;
  }
  const opts = cmd.opts<AuditCliOptions & { max: number; json?: boolean }>();
  const image = cmd.args[0] as string;
  try {
    const report = auditImage(image, { ...opts, maxDisagreements: opts.json ? undefined : opts.max });
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, opts.max)}\n`);
    return report.disagreementCount ? EXIT_DISAGREEMENTS : EXIT_CLEAN;
  } catch (e) {
    if (e instanceof ModelInputError) {
      process.stderr.write(`audit: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`audit: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.IH_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
  process.exitCode = EXIT_BAD_INPUT;
}
