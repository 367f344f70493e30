/*
 * The gcm audit's run check (gcm-run.ts) in one native pass: for a run of dm-crypt capi:gcm(aes)-random
 * sectors, authenticate every sector and write its plaintext. Per sector, eight blocks at a time: the
 * counter blocks IV || be32(2 + j) through AES (J0 = IV || be32(1) with the first eight), the plaintext
 * C ^ keystream, and GHASH_H(a1, a2, C, len) with PCLMULQDQ, every block times its own power of H and one
 * reduction per sector (no chain of dependent multiplications); then S ^ E_K(J0) against the stored tag.
 * The tuple is [auth tag 16 | IV 12 | padding]; dm-crypt's AAD is le64(sector) || IV: a1 = le64(sector) ||
 * IV[0..8], a2 = IV[8..12] || 0^12; the length block is [160]64 [8 * sector size]64, big-endian. GHASH
 * follows Gueron & Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM
 * Mode" (algorithms 1 and 5, bit-reflected operands byte-swapped); the key schedule is FIPS-197's
 * KeyExpansion with SubWord from AESENCLAST. Loaded by native-gcm.ts, which compiles this file on first use.
 * Where the CPU has VAES and VPCLMULQDQ, two blocks go through each instruction (sector_ok_vaes; ~45 against
 * ~80 ms per 256 MiB on the 2-core EPYC); IH_NATIVE_GCM_NO_VAES keeps to AES-NI.
 *   isa() -> "VAES" | "AES-NI"    which path a handle made now takes
 *   gcm(key) -> handle            key of 16, 24 or 32 bytes; throws on a CPU without AES-NI or PCLMULQDQ
 *   gcmRun(handle, data, tags, out, n, sectorSize, tupleSize, s0, step) -> boolean
 *       true iff all n sectors authenticate (out then holds the plaintext); AAD sector of the i-th: s0 + i * step
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1")))
#define VTARGET __attribute__((target("vaes,vpclmulqdq,avx2,aes,pclmul,ssse3,sse4.1")))

typedef struct {
  __m256i rk2[15]; /* round keys, twice (for VAES) */
  __m128i rk[15];  /* round keys */
  int nr;          /* rounds: 10, 12, 14 */
  int vaes;        /* VAES + VPCLMULQDQ + AVX2 path */
  size_t B;        /* blocks per sector the tables below are for (0: none yet) */
  __m128i *hr;     /* hr[q] = H^(B + 3 - q), byte-swapped: the power block q of a sector is multiplied by */
  __m128i *ct;     /* ct[j] = 0^96 || be32(2 + j), the counter word of keystream block j */
} gcm_t;

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

TARGET static inline __m128i bswap(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* lo, mid, hi += a * b, unreduced (schoolbook, four multiplications) */
TARGET static inline void mul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid, __m128i *hi) {
  *lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
  *hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
  *mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01)));
}

/* the 256-bit product hi:mid:lo shifted left by one and reduced modulo x^128 + x^7 + x^2 + x + 1 */
TARGET static inline __m128i reduce(__m128i lo, __m128i mid, __m128i hi) {
  __m128i t3 = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  __m128i t6 = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  __m128i t7 = _mm_srli_epi32(t3, 31), t8 = _mm_srli_epi32(t6, 31);
  t3 = _mm_slli_epi32(t3, 1);
  t6 = _mm_slli_epi32(t6, 1);
  __m128i t9 = _mm_srli_si128(t7, 12);
  t8 = _mm_slli_si128(t8, 4);
  t7 = _mm_slli_si128(t7, 4);
  t3 = _mm_or_si128(t3, t7);
  t6 = _mm_or_si128(_mm_or_si128(t6, t8), t9);
  t7 = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(t3, 31), _mm_slli_epi32(t3, 30)), _mm_slli_epi32(t3, 25));
  t8 = _mm_srli_si128(t7, 4);
  t7 = _mm_slli_si128(t7, 12);
  t3 = _mm_xor_si128(t3, t7);
  __m128i t2 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(t3, 1), _mm_srli_epi32(t3, 2)), _mm_srli_epi32(t3, 7));
  t2 = _mm_xor_si128(t2, t8);
  t3 = _mm_xor_si128(t3, t2);
  return _mm_xor_si128(t6, t3);
}

TARGET static inline __m128i gfmul(__m128i a, __m128i b) {
  __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
  mul_acc(a, b, &lo, &mid, &hi);
  return reduce(lo, mid, hi);
}

static void free_gcm(napi_env env, void *p, void *hint) {
  (void)env;
  (void)hint;
  gcm_t *g = p;
  free(g->hr);
  free(g->ct);
  free(g);
}

TARGET static uint32_t sub_word(uint32_t w) {
  /* all four columns hold w, so ShiftRows moves nothing: lane 0 is SubBytes(w) */
  return (uint32_t)_mm_cvtsi128_si32(_mm_aesenclast_si128(_mm_set1_epi32((int)w), _mm_setzero_si128()));
}

/* FIPS-197 KeyExpansion, words little-endian as they lie in memory (byte 0 lowest) */
TARGET static void expand_key(gcm_t *g, const uint8_t *key, size_t nk) {
  uint32_t w[60];
  const size_t words = 4 * (nk + 7);
  uint32_t rcon = 1;
  memcpy(w, key, 4 * nk);
  for (size_t i = nk; i < words; i++) {
    uint32_t t = w[i - 1];
    if (i % nk == 0) {
      t = sub_word((t >> 8) | (t << 24)) ^ rcon;
      rcon = (rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0);
    } else if (nk > 6 && i % nk == 4) {
      t = sub_word(t);
    }
    w[i] = w[i - nk] ^ t;
  }
  g->nr = (int)nk + 6;
  for (int r = 0; r <= g->nr; r++) g->rk[r] = _mm_loadu_si128((const __m128i *)(w + 4 * r));
}

/* AES-encrypts N blocks in place, interleaved so that the AES unit never waits on one block */
#define AES_BLOCKS(N)                                                                                         \
  TARGET static inline void aes##N(const gcm_t *g, __m128i *x) {                                              \
    _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm_xor_si128(x[k], g->rk[0]);              \
    for (int r = 1; r < g->nr; r++) {                                                                         \
      const __m128i rk = g->rk[r];                                                                            \
      _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm_aesenc_si128(x[k], rk);                 \
    }                                                                                                         \
    _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm_aesenclast_si128(x[k], g->rk[g->nr]);   \
  }
AES_BLOCKS(1)
AES_BLOCKS(8)
AES_BLOCKS(9)

/* IH_NATIVE_GCM_NO_VAES (any value) keeps to AES-NI, so that tests reach that path on a VAES machine too */
static int use_vaes(void) {
  return __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx2") && !getenv("IH_NATIVE_GCM_NO_VAES");
}

static napi_value isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  const char *name = use_vaes() ? "VAES" : "AES-NI";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s);
  return s;
}

TARGET static napi_value gcm(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out;
  uint8_t *key;
  if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("ssse3") || !__builtin_cpu_supports("sse4.1"))
    return fail(env, "gcm(key): this CPU lacks one of AES-NI, PCLMULQDQ, SSSE3, SSE4.1");
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !bytes_of(env, argv[0], &key, &len))
    return fail(env, "gcm(key): key must be a Uint8Array");
  if (len != 16 && len != 24 && len != 32) return fail(env, "gcm(key): key must be 16, 24 or 32 bytes");
  gcm_t *g = aligned_alloc(32, sizeof *g);
  if (!g) return fail(env, "gcm(key): out of memory");
  memset(g, 0, sizeof *g);
  expand_key(g, key, len / 4);
  for (int r = 0; r <= g->nr; r++) {
    memcpy((uint8_t *)&g->rk2[r], &g->rk[r], 16);
    memcpy((uint8_t *)&g->rk2[r] + 16, &g->rk[r], 16);
  }
  g->vaes = use_vaes();
  if (napi_create_external(env, g, free_gcm, NULL, &out) != napi_ok) {
    free_gcm(env, g, NULL);
    return fail(env, "gcm(key): napi_create_external failed");
  }
  return out;
}

/* hr and ct for sectors of B blocks */
TARGET static int tables(gcm_t *g, size_t B) {
  if (g->B == B) return 1;
  const size_t m = B + 3;
  __m128i *hr = aligned_alloc(32, (m + 1) * sizeof *hr), *ct = aligned_alloc(32, B * sizeof *ct);
  if (!hr || !ct) {
    free(hr);
    free(ct);
    return 0;
  }
  __m128i h = _mm_setzero_si128();
  aes1(g, &h);
  h = bswap(h);
  hr[m - 1] = h;
  for (size_t q = m - 1; q-- > 0;) hr[q] = gfmul(hr[q + 1], h);
  hr[m] = _mm_setzero_si128();
  for (size_t j = 0; j < B; j++) ct[j] = _mm_insert_epi32(_mm_setzero_si128(), (int)__builtin_bswap32((uint32_t)(2 + j)), 3);
  free(g->hr);
  free(g->ct);
  g->hr = hr;
  g->ct = ct;
  g->B = B;
  return 1;
}

/* a1 || a2 of a sector (le64(sector) || IV || 0^12) and its IV with a zero counter word */
static inline void aad_blocks(uint8_t a[32], uint64_t sector, const uint8_t *t) {
  memset(a, 0, 32);
  memcpy(a, &sector, 8); /* le64: x86 is little-endian */
  memcpy(a + 8, t + 16, 12);
}

/*
 * One sector: keystream, plaintext and GHASH in one pass over C, eight blocks at a time (B is a multiple of
 * 8: sectors are whole 512 bytes); the tag check S ^ E_K(J0) == stored tag.
 */
TARGET static inline int sector_ok(const gcm_t *g, uint64_t sector, const uint8_t *t, const uint8_t *c, uint8_t *out, size_t B, __m128i len) {
  uint8_t a[32];
  aad_blocks(a, sector, t);
  const __m128i iv = _mm_loadu_si128((const __m128i *)(a + 8)); /* a[20..24] are zero */
  const __m128i *hr = g->hr, *ct = g->ct;
  __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo, ej0 = lo;
  mul_acc(bswap(_mm_loadu_si128((const __m128i *)a)), hr[0], &lo, &mid, &hi);
  mul_acc(bswap(_mm_loadu_si128((const __m128i *)(a + 16))), hr[1], &lo, &mid, &hi);
  for (size_t j = 0; j < B; j += 8) {
    __m128i x[9];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) x[k] = _mm_or_si128(iv, ct[j + k]);
    if (j == 0) {
      x[8] = _mm_insert_epi32(iv, (int)__builtin_bswap32(1), 3);
      aes9(g, x);
      ej0 = x[8];
    } else {
      aes8(g, x);
    }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
      const __m128i raw = _mm_loadu_si128((const __m128i *)(c + 16 * (j + k)));
      _mm_storeu_si128((__m128i *)(out + 16 * (j + k)), _mm_xor_si128(raw, x[k]));
      mul_acc(bswap(raw), hr[2 + j + k], &lo, &mid, &hi);
    }
  }
  mul_acc(len, hr[B + 2], &lo, &mid, &hi);
  const __m128i want = _mm_xor_si128(bswap(reduce(lo, mid, hi)), ej0);
  return _mm_movemask_epi8(_mm_cmpeq_epi8(want, _mm_loadu_si128((const __m128i *)t))) == 0xffff;
}

VTARGET static inline __m256i bswap2(__m256i x) {
  const __m256i m = _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return _mm256_shuffle_epi8(x, m);
}

VTARGET static inline void mul_acc2(__m256i a, __m256i b, __m256i *lo, __m256i *mid, __m256i *hi) {
  *lo = _mm256_xor_si256(*lo, _mm256_clmulepi64_epi128(a, b, 0x00));
  *hi = _mm256_xor_si256(*hi, _mm256_clmulepi64_epi128(a, b, 0x11));
  *mid = _mm256_xor_si256(*mid, _mm256_xor_si256(_mm256_clmulepi64_epi128(a, b, 0x10), _mm256_clmulepi64_epi128(a, b, 0x01)));
}

#define AES2_BLOCKS(N)                                                                                        \
  VTARGET static inline void aes2_##N(const gcm_t *g, __m256i *x) {                                           \
    _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm256_xor_si256(x[k], g->rk2[0]);           \
    for (int r = 1; r < g->nr; r++) {                                                                         \
      const __m256i rk = g->rk2[r];                                                                           \
      _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm256_aesenc_epi128(x[k], rk);             \
    }                                                                                                         \
    _Pragma("GCC unroll 16") for (int k = 0; k < N; k++) x[k] = _mm256_aesenclast_epi128(x[k], g->rk2[g->nr]); \
  }
AES2_BLOCKS(4)
AES2_BLOCKS(5)

VTARGET static inline __m128i fold(__m256i x) {
  return _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
}

/* sector_ok with two blocks per instruction (VAES, VPCLMULQDQ): the same sums in the same order of blocks */
VTARGET static inline int sector_ok_vaes(const gcm_t *g, uint64_t sector, const uint8_t *t, const uint8_t *c, uint8_t *out, size_t B, __m128i len) {
  uint8_t a[32];
  aad_blocks(a, sector, t);
  const __m128i iv1 = _mm_loadu_si128((const __m128i *)(a + 8));
  const __m256i iv = _mm256_set_m128i(iv1, iv1);
  const __m128i *hr = g->hr, *ct = g->ct;
  __m256i lo = _mm256_setzero_si256(), mid = lo, hi = lo;
  __m128i ej0 = _mm_setzero_si128();
  mul_acc2(bswap2(_mm256_loadu_si256((const __m256i *)a)), _mm256_load_si256((const __m256i *)hr), &lo, &mid, &hi);
  for (size_t j = 0; j < B; j += 8) {
    __m256i x[5];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) x[k] = _mm256_or_si256(iv, _mm256_load_si256((const __m256i *)(ct + j + 2 * k)));
    if (j == 0) {
      x[4] = _mm256_castsi128_si256(_mm_insert_epi32(iv1, (int)__builtin_bswap32(1), 3));
      aes2_5(g, x);
      ej0 = _mm256_castsi256_si128(x[4]);
    } else {
      aes2_4(g, x);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      const __m256i raw = _mm256_loadu_si256((const __m256i *)(c + 16 * (j + 2 * k)));
      _mm256_storeu_si256((__m256i *)(out + 16 * (j + 2 * k)), _mm256_xor_si256(raw, x[k]));
      mul_acc2(bswap2(raw), _mm256_loadu_si256((const __m256i *)(hr + 2 + j + 2 * k)), &lo, &mid, &hi);
    }
  }
  /* the length block, times hr[B + 2] = H, in lane 0; hr[B + 3] is zero */
  mul_acc2(_mm256_castsi128_si256(len), _mm256_loadu_si256((const __m256i *)(hr + B + 2)), &lo, &mid, &hi);
  const __m128i want = _mm_xor_si128(bswap(reduce(fold(lo), fold(mid), fold(hi))), ej0);
  return _mm_movemask_epi8(_mm_cmpeq_epi8(want, _mm_loadu_si128((const __m128i *)t))) == 0xffff;
}

TARGET static napi_value gcm_run(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9], res;
  void *p;
  uint8_t *data, *tags, *out;
  size_t dataLen, tagsLen, outLen;
  uint32_t n, bs, ts, step;
  double s0d;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 9 || napi_get_value_external(env, argv[0], &p) != napi_ok)
    return fail(env, "gcmRun(handle, ...): handle must come from gcm()");
  if (!bytes_of(env, argv[1], &data, &dataLen) || !bytes_of(env, argv[2], &tags, &tagsLen) || !bytes_of(env, argv[3], &out, &outLen))
    return fail(env, "gcmRun: data, tags and out must be Uint8Arrays");
  if (napi_get_value_uint32(env, argv[4], &n) != napi_ok || napi_get_value_uint32(env, argv[5], &bs) != napi_ok ||
      napi_get_value_uint32(env, argv[6], &ts) != napi_ok || napi_get_value_double(env, argv[7], &s0d) != napi_ok ||
      napi_get_value_uint32(env, argv[8], &step) != napi_ok)
    return fail(env, "gcmRun: n, sectorSize, tupleSize, s0 and step must be numbers");
  if (bs == 0 || bs % 128 || ts < 28 || s0d < 0 || s0d > 9007199254740991.0)
    return fail(env, "gcmRun: sector size must be a multiple of 128, tuple size at least 28, s0 a safe integer");
  if (dataLen < (size_t)n * bs || tagsLen < (size_t)n * ts || outLen < (size_t)n * bs) return fail(env, "gcmRun: data, tags or out shorter than n sectors");
  gcm_t *g = p;
  const size_t B = bs / 16;
  if (!tables(g, B)) return fail(env, "gcmRun: out of memory");
  const __m128i len = bswap(_mm_set_epi64x((long long)__builtin_bswap64((uint64_t)bs * 8), (long long)__builtin_bswap64(160)));
  uint64_t sector = (uint64_t)s0d;
  int ok = 1;
  if (g->vaes)
    for (size_t i = 0; i < n && ok; i++, sector += step) ok = sector_ok_vaes(g, sector, tags + i * ts, data + i * bs, out + i * bs, B, len);
  else
    for (size_t i = 0; i < n && ok; i++, sector += step) ok = sector_ok(g, sector, tags + i * ts, data + i * bs, out + i * bs, B, len);
  napi_get_boolean(env, ok, &res);
  return res;
}
#endif

NAPI_MODULE_INIT() {
#if defined(__x86_64__)
  napi_property_descriptor fns[] = {
    {"gcm", NULL, gcm, NULL, NULL, NULL, napi_default, NULL},
    {"gcmRun", NULL, gcm_run, NULL, NULL, NULL, napi_default, NULL},
    {"isa", NULL, isa, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 3, fns) != napi_ok) return NULL;
#endif
  return exports;
}
