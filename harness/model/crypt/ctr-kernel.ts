/**
 * What crypt_ctr() accepts differs between kernel versions. Each difference here was read from the source of
 * 6.1.192 (Debian's linux-source-6.1) and upstream, and checked against the strings and the `dm_arg` table of
 * Debian's dm-crypt.ko for 6.1.192 and 6.12.118 (5.10 has 6.1's checks):
 *   - the optional-argument count limit (crypt_ctr_optional()'s `dm_arg` {0, N}): 8 up to 6.9, 9 with
 *     `high_priority` (6.10);
 *   - `integrity_key_size:<n>` (the authenc MAC key length, 6.12): before, "Invalid feature arguments";
 *   - the lower device's integrity profile (crypt_integrity_ctr()): up to 6.9 it must be dm-integrity's
 *     DM-DIF-EXT-TAG with tag and tuple size equal to `integrity:<n>`, and the AEAD tag plus stored IV must be
 *     that size exactly; from 6.10 any profile without a checksum (dm-integrity's, an NVMe `nop`) whose
 *     tuple holds at least `integrity:<n>` bytes, and the tag plus IV must fit in it;
 *   - "Invalid AEAD cipher spec" (crypt_ctr_cipher_new()): -ENOMEM up to 6.4 (6.1.192 has it), then the errno
 *     of crypt_ctr_auth_cipher() (a dm-devel patch of May 2023; 6.12.118 logs -ENOENT for an unknown MAC).
 */
export interface CryptCtrKernel {
  maxFeatureArgs: number;
  /** optional flags this kernel knows, lower case (crypt_ctr_optional() compares with strcasecmp) */
  flags: ReadonlySet<string>;
  integrityKeySize: boolean;
  /** 'exact': tag_size == tuple_size == integrity:<n>; 'fits': tuple_size >= integrity:<n> */
  profileTag: 'exact' | 'fits';
  /** the errno of "Invalid AEAD cipher spec": always -ENOMEM, or what crypt_ctr_auth_cipher() failed with */
  aeadSpecErrno: 'ENOMEM' | 'cause';
}

const BASE_FLAGS = ['allow_discards', 'same_cpu_crypt', 'submit_from_crypt_cpus', 'no_read_workqueue', 'no_write_workqueue', 'iv_large_sectors'];

/** `version` is [major, minor, patch?] as the guest reports it. */
export function cryptCtrKernel(version: readonly number[]): CryptCtrKernel {
  const [major = 0, minor = 0] = version;
  const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);
  const flags = new Set(BASE_FLAGS);
  if (atLeast(6, 10)) flags.add('high_priority');
  return {
    maxFeatureArgs: atLeast(6, 10) ? 9 : 8,
    flags,
    integrityKeySize: atLeast(6, 12),
    profileTag: atLeast(6, 10) ? 'fits' : 'exact',
    aeadSpecErrno: atLeast(6, 5) ? 'cause' : 'ENOMEM',
  };
}
