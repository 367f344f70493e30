/*
 * The gcm audit's run check (gcm-run.ts) in one native pass: for a run of dm-crypt capi:gcm(aes)-random
 * sectors, authenticate every sector and write its plaintext. Per slice of sectors that fits in L1/L2:
 * the counter blocks IV || be32(2 + j) and J0 = IV || be32(1) from each sector's tuple
 * [auth tag 16 | IV 12 | padding], one AES-ECB call over them (OpenSSL, the copy Node is linked with and
 * whose symbols Node exports), then per sector GHASH_H(a1, a2, C, len) with PCLMULQDQ (every block times
 * its own power of H, one reduction per sector), S ^ E_K(J0) against the stored tag, and plaintext = C ^ keystream in the same pass over C.
 * dm-crypt's AAD is le64(sector) || IV: a1 = le64(sector) || IV[0..8], a2 = IV[8..12] || 0^12; the length
 * block is [160]64 [8 * sector size]64, big-endian. GHASH follows Gueron & Kounavis, "Intel Carry-Less
 * Multiplication Instruction and its Usage for Computing the GCM Mode" (algorithms 1 and 5, bit-reflected
 * operands byte-swapped). Loaded by native-aes.ts, which compiles this file on first use.
 *   gcm(key) -> handle                                  key of 16, 24 or 32 bytes; throws without PCLMULQDQ
 *   gcmRun(handle, data, tags, out, n, sectorSize, tupleSize, s0, step) -> boolean
 *       true iff all n sectors authenticate (out then holds the plaintext); AAD sector of the i-th: s0 + i * step
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("pclmul,ssse3,sse4.1")))

typedef struct {
  EVP_CIPHER_CTX *ecb;
  __m128i *hp;  /* H^1, H^2, ... H^hpN, byte-swapped */
  size_t hpN;
  uint8_t *ks;  /* counter blocks of one slice, then their AES */
  size_t ksBytes;
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
  EVP_CIPHER_CTX_free(g->ecb);
  free(g->hp);
  free(g->ks);
  free(g);
}

TARGET static napi_value gcm(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out;
  uint8_t *key;
  if (!__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("ssse3") || !__builtin_cpu_supports("sse4.1"))
    return fail(env, "gcm(key): this CPU has no PCLMULQDQ/SSSE3/SSE4.1");
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !bytes_of(env, argv[0], &key, &len))
    return fail(env, "gcm(key): key must be a Uint8Array");
  const EVP_CIPHER *c = len == 16 ? EVP_aes_128_ecb() : len == 24 ? EVP_aes_192_ecb() : len == 32 ? EVP_aes_256_ecb() : NULL;
  if (!c) return fail(env, "gcm(key): key must be 16, 24 or 32 bytes");
  gcm_t *g = calloc(1, sizeof *g);
  if (!g) return fail(env, "gcm(key): out of memory");
  uint8_t zero[16] = {0}, h[16];
  int n = 0;
  g->ecb = EVP_CIPHER_CTX_new();
  if (!g->ecb || EVP_EncryptInit_ex(g->ecb, c, NULL, key, NULL) != 1 || EVP_CIPHER_CTX_set_padding(g->ecb, 0) != 1 ||
      EVP_EncryptUpdate(g->ecb, h, &n, zero, 16) != 1 || n != 16) {
    free_gcm(env, g, NULL);
    return fail(env, "gcm(key): OpenSSL refused the AES-ECB context");
  }
  g->hp = malloc(sizeof *g->hp);
  if (!g->hp) {
    free_gcm(env, g, NULL);
    return fail(env, "gcm(key): out of memory");
  }
  g->hp[0] = bswap(_mm_loadu_si128((const __m128i *)h));
  g->hpN = 1;
  if (napi_create_external(env, g, free_gcm, NULL, &out) != napi_ok) {
    free_gcm(env, g, NULL);
    return fail(env, "gcm(key): napi_create_external failed");
  }
  return out;
}

/* H^1 .. H^m available */
TARGET static int powers(gcm_t *g, size_t m) {
  if (g->hpN >= m) return 1;
  __m128i *hp = realloc(g->hp, m * sizeof *hp);
  if (!hp) return 0;
  for (size_t k = g->hpN; k < m; k++) hp[k] = gfmul(hp[k - 1], hp[0]);
  g->hp = hp;
  g->hpN = m;
  return 1;
}

/*
 * GHASH of one sector, its m = B + 3 blocks a1, a2, C_1..C_B, len each times its own power of H
 * (X_k H^(m - k + 1)): independent products summed unreduced and reduced once, so nothing waits on a
 * previous block. out = C ^ keystream in the same pass.
 */
TARGET static inline __m128i sector_ghash(const gcm_t *g, __m128i a1, __m128i a2, const uint8_t *c, const uint8_t *ks, uint8_t *out, size_t B, __m128i len) {
  const __m128i *hp = g->hp + B; /* hp[2 - k] = H^(B + 3 - k) for block k = 0 (a1), 1 (a2), 2 (C_1) */
  __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
  mul_acc(a1, hp[2], &lo, &mid, &hi);
  mul_acc(a2, hp[1], &lo, &mid, &hi);
  for (size_t j = 0; j < B; j++) {
    __m128i raw = _mm_loadu_si128((const __m128i *)(c + 16 * j));
    _mm_storeu_si128((__m128i *)(out + 16 * j), _mm_xor_si128(raw, _mm_loadu_si128((const __m128i *)(ks + 16 * j))));
    mul_acc(bswap(raw), g->hp[B - j], &lo, &mid, &hi);
  }
  mul_acc(len, g->hp[0], &lo, &mid, &hi);
  return reduce(lo, mid, hi);
}

/* AES-ECB input of m sectors: each one's counter blocks IV || be32(2 + j) at ks, then all J0 = IV || be32(1) */
TARGET static inline void fill_counters(uint8_t *ks, const uint8_t *tags, size_t ts, size_t m, size_t B) {
  uint8_t *j0 = ks + m * B * 16;
  for (size_t i = 0; i < m; i++) {
    uint8_t ivb[16] = {0};
    memcpy(ivb, tags + i * ts + 16, 12); /* the tuple may end right after the IV */
    const __m128i iv = _mm_loadu_si128((const __m128i *)ivb);
    _mm_storeu_si128((__m128i *)(j0 + i * 16), _mm_insert_epi32(iv, (int)__builtin_bswap32(1), 3));
    for (size_t j = 0; j < B; j++) _mm_storeu_si128((__m128i *)(ks + (i * B + j) * 16), _mm_insert_epi32(iv, (int)__builtin_bswap32((uint32_t)(2 + j)), 3));
  }
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
  if (bs == 0 || bs % 64 || ts < 28 || s0d < 0 || s0d > 9007199254740991.0)
    return fail(env, "gcmRun: sector size must be a multiple of 64, tuple size at least 28, s0 a safe integer");
  if (dataLen < (size_t)n * bs || tagsLen < (size_t)n * ts || outLen < (size_t)n * bs) return fail(env, "gcmRun: data, tags or out shorter than n sectors");
  gcm_t *g = p;
  const size_t B = bs / 16;
  const size_t slice = bs >= 32768 ? 1 : 32768 / bs; /* sectors per ECB call: their counters stay in cache */
  const size_t need = slice * (B + 1) * 16;
  if (!powers(g, B + 3)) return fail(env, "gcmRun: out of memory");
  if (g->ksBytes < need) {
    uint8_t *ks = realloc(g->ks, need);
    if (!ks) return fail(env, "gcmRun: out of memory");
    g->ks = ks;
    g->ksBytes = need;
  }
  const __m128i len = bswap(_mm_set_epi64x((long long)__builtin_bswap64((uint64_t)bs * 8), (long long)__builtin_bswap64(160)));
  uint64_t sector = (uint64_t)s0d;
  int ok = 1;
  for (size_t i0 = 0; i0 < n && ok; i0 += slice) {
    const size_t m = n - i0 < slice ? n - i0 : slice;
    uint8_t *ks = g->ks, *j0 = g->ks + m * bs;
    fill_counters(ks, tags + i0 * ts, ts, m, B);
    int done = 0;
    if (EVP_EncryptUpdate(g->ecb, ks, &done, ks, (int)(m * (B + 1) * 16)) != 1 || done != (int)(m * (B + 1) * 16)) return fail(env, "gcmRun: EVP_EncryptUpdate failed");
    for (size_t i = 0; i < m; i++, sector += step) {
      const uint8_t *t = tags + (i0 + i) * ts;
      uint8_t a[32] = {0};
      memcpy(a, &sector, 8); /* le64: x86 is little-endian */
      memcpy(a + 8, t + 16, 12);
      const __m128i a1 = bswap(_mm_loadu_si128((const __m128i *)a)), a2 = bswap(_mm_loadu_si128((const __m128i *)(a + 16)));
      const __m128i y = sector_ghash(g, a1, a2, data + (i0 + i) * bs, ks + i * bs, out + (i0 + i) * bs, B, len);
      const __m128i want = _mm_xor_si128(bswap(y), _mm_loadu_si128((const __m128i *)(j0 + i * 16)));
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(want, _mm_loadu_si128((const __m128i *)t))) != 0xffff) {
        ok = 0;
        break;
      }
    }
  }
  napi_get_boolean(env, ok, &res);
  return res;
}
#endif

NAPI_MODULE_INIT() {
#if defined(__x86_64__)
  napi_property_descriptor fns[] = {
    {"gcm", NULL, gcm, NULL, NULL, NULL, napi_default, NULL},
    {"gcmRun", NULL, gcm_run, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 2, fns) != napi_ok) return NULL;
#endif
  return exports;
}
