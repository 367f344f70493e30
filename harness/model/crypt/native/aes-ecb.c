/*
 * AES-ECB encryption in place over a caller's typed array, for the gcm audit's counter blocks
 * (gcm-run.ts). node:crypto's Cipher.update allocates every output, and for a 256 MiB audit that
 * allocation and the GC behind it cost twice the cipher itself; here OpenSSL (the copy Node is linked
 * with, whose symbols Node exports) writes straight over its input. Loaded by native-aes.ts, which
 * compiles it on first use.
 *   ecb(key: Uint8Array) -> handle            a cipher context for that key (16, 24 or 32 bytes)
 *   ecbInPlace(handle, view: Uint8Array)      view.length a multiple of 16
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdint.h>

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

static void free_ctx(napi_env env, void *ctx, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_CTX_free(ctx);
}

static napi_value ecb(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint8_t *key;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !bytes_of(env, argv[0], &key, &len))
    return fail(env, "ecb(key): key must be a Uint8Array");
  const EVP_CIPHER *c = len == 16 ? EVP_aes_128_ecb() : len == 24 ? EVP_aes_192_ecb() : len == 32 ? EVP_aes_256_ecb() : NULL;
  if (!c) return fail(env, "ecb(key): key must be 16, 24 or 32 bytes");
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_EncryptInit_ex(ctx, c, NULL, key, NULL) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ecb(key): OpenSSL refused the AES-ECB context");
  }
  if (napi_create_external(env, ctx, free_ctx, NULL, &out) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ecb(key): napi_create_external failed");
  }
  return out;
}

static napi_value ecb_in_place(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *ctx;
  uint8_t *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_value_external(env, argv[0], &ctx) != napi_ok)
    return fail(env, "ecbInPlace(handle, view): handle must come from ecb()");
  if (!bytes_of(env, argv[1], &data, &len)) return fail(env, "ecbInPlace(handle, view): view must be a Uint8Array");
  if (len % 16) return fail(env, "ecbInPlace(handle, view): view length must be a multiple of 16");
  for (size_t done = 0; done < len;) {
    int piece = len - done > (INT_MAX & ~15) ? (INT_MAX & ~15) : (int)(len - done), n = 0;
    if (EVP_EncryptUpdate(ctx, data + done, &n, data + done, piece) != 1 || n != piece) return fail(env, "ecbInPlace: EVP_EncryptUpdate failed");
    done += (size_t)piece;
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
    {"ecb", NULL, ecb, NULL, NULL, NULL, napi_default, NULL},
    {"ecbInPlace", NULL, ecb_in_place, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 2, fns) != napi_ok) return NULL;
  return exports;
}
