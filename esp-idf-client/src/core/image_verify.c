/*
 * Streaming SHA-256 and signature verification with mbedTLS.
 *
 * Works with mbedTLS 2.28 (Debian, host tests) and 3.x (ESP-IDF v5):
 * the SHA-256 streaming calls were renamed in 3.0 (the *_ret variants of 2.x
 * became the plain names), and with MBEDTLS_USE_PSA_CRYPTO the PK layer runs
 * on PSA, which must be initialised before the first verification.
 *
 * Signatures are what `openssl dgst -sha256 -sign key.pem -out fw.sig fw.bin`
 * produces: RSA PKCS#1 v1.5 (raw, key-size bytes) or ECDSA P-256 (DER), both
 * over the SHA-256 of the image. mbedtls_pk_verify() takes exactly those
 * encodings, given the digest.
 */
#include <stdlib.h>
#include <string.h>

#include "mbedtls/version.h"
#include "mbedtls/base64.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"
#if defined(MBEDTLS_USE_PSA_CRYPTO)
#include "psa/crypto.h"
#endif

#include "paku_ota_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define PAKU_SHA256_STARTS(ctx) mbedtls_sha256_starts((ctx), 0)
#define PAKU_SHA256_UPDATE(ctx, d, n) mbedtls_sha256_update((ctx), (d), (n))
#define PAKU_SHA256_FINISH(ctx, out) mbedtls_sha256_finish((ctx), (out))
#else
#define PAKU_SHA256_STARTS(ctx) mbedtls_sha256_starts_ret((ctx), 0)
#define PAKU_SHA256_UPDATE(ctx, d, n) mbedtls_sha256_update_ret((ctx), (d), (n))
#define PAKU_SHA256_FINISH(ctx, out) mbedtls_sha256_finish_ret((ctx), (out))
#endif

struct paku_ota_sha256 {
    mbedtls_sha256_context ctx;
    bool started;
};

paku_ota_sha256_t *paku_ota_sha256_new(void)
{
    paku_ota_sha256_t *h = calloc(1, sizeof(*h));
    if (h != NULL) {
        mbedtls_sha256_init(&h->ctx);
    }
    return h;
}

void paku_ota_sha256_free(paku_ota_sha256_t *h)
{
    if (h != NULL) {
        mbedtls_sha256_free(&h->ctx);
        free(h);
    }
}

paku_ota_err_t paku_ota_sha256_start(paku_ota_sha256_t *h)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    /* Re-initialise so a context abandoned mid-stream starts clean. */
    mbedtls_sha256_free(&h->ctx);
    mbedtls_sha256_init(&h->ctx);
    h->started = PAKU_SHA256_STARTS(&h->ctx) == 0;
    return h->started ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

paku_ota_err_t paku_ota_sha256_update(paku_ota_sha256_t *h, const uint8_t *data, size_t len)
{
    if (h == NULL || !h->started || (data == NULL && len > 0)) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    if (len == 0) {
        return PAKU_OTA_OK;
    }
    return PAKU_SHA256_UPDATE(&h->ctx, data, len) == 0 ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

paku_ota_err_t paku_ota_sha256_finish(paku_ota_sha256_t *h, uint8_t digest[32])
{
    if (h == NULL || !h->started || digest == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    h->started = false;
    return PAKU_SHA256_FINISH(&h->ctx, digest) == 0 ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

typedef enum {
    KEY_RSA,
    KEY_EC_P256,
} key_kind_t;

struct paku_ota_sigkey {
    mbedtls_pk_context pk;
    key_kind_t kind;
};

static paku_ota_err_t crypto_init(void)
{
#if defined(MBEDTLS_USE_PSA_CRYPTO)
    /* Idempotent; required before the PK layer touches PSA keys. */
    if (psa_crypto_init() != PSA_SUCCESS) {
        return PAKU_OTA_ERR_CRYPTO;
    }
#endif
    return PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_sigkey_load(const char *pem, paku_ota_sigkey_t **out)
{
    if (pem == NULL || out == NULL || pem[0] == '\0') {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    paku_ota_err_t err = crypto_init();
    if (err != PAKU_OTA_OK) {
        return err;
    }
    paku_ota_sigkey_t *key = calloc(1, sizeof(*key));
    if (key == NULL) {
        return PAKU_OTA_ERR_NO_MEM;
    }
    mbedtls_pk_init(&key->pk);
    /* PEM input: the length must include the terminating NUL. */
    int ret = mbedtls_pk_parse_public_key(&key->pk, (const unsigned char *)pem, strlen(pem) + 1);
    if (ret != 0) {
        PAKU_OTA_LOGE(TAG, "signing key is not a PEM public key (mbedtls -0x%04x)",
                      (unsigned)-ret);
        paku_ota_sigkey_free(key);
        return PAKU_OTA_ERR_CONFIG;
    }
    size_t bits = mbedtls_pk_get_bitlen(&key->pk);
    if (mbedtls_pk_get_type(&key->pk) == MBEDTLS_PK_RSA && bits >= 2048 &&
        bits <= PAKU_OTA_SIGNATURE_MAX_LEN * 8) {
        key->kind = KEY_RSA;
    } else if (mbedtls_pk_can_do(&key->pk, MBEDTLS_PK_ECDSA) && bits == 256) {
        key->kind = KEY_EC_P256;
    } else {
        PAKU_OTA_LOGE(TAG, "signing key must be RSA-2048..4096 or EC P-256 (got %u bits)",
                      (unsigned)bits);
        paku_ota_sigkey_free(key);
        return PAKU_OTA_ERR_CONFIG;
    }
    *out = key;
    return PAKU_OTA_OK;
}

void paku_ota_sigkey_free(paku_ota_sigkey_t *key)
{
    if (key != NULL) {
        mbedtls_pk_free(&key->pk);
        free(key);
    }
}

bool paku_ota_sigkey_accepts(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg)
{
    if (key == NULL) {
        return false;
    }
    return (alg == PAKU_OTA_SIG_RSA_PKCS1V15_SHA256 && key->kind == KEY_RSA) ||
           (alg == PAKU_OTA_SIG_ECDSA_P256_SHA256 && key->kind == KEY_EC_P256);
}

const char *paku_ota_sigkey_kind_name(const paku_ota_sigkey_t *key)
{
    if (key == NULL) {
        return "none";
    }
    return key->kind == KEY_RSA ? "RSA" : "EC P-256";
}

paku_ota_err_t paku_ota_sigkey_verify(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg,
                                      const uint8_t digest[32], const uint8_t *sig,
                                      size_t sig_len)
{
    if (key == NULL || digest == NULL || sig == NULL || sig_len == 0) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    switch (alg) {
    case PAKU_OTA_SIG_RSA_PKCS1V15_SHA256:
        if (key->kind != KEY_RSA) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        if (sig_len != mbedtls_pk_get_len(&key->pk)) {
            return PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
        break;
    case PAKU_OTA_SIG_ECDSA_P256_SHA256:
        if (key->kind != KEY_EC_P256) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        break;
    default:
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    paku_ota_err_t err = crypto_init();
    if (err != PAKU_OTA_OK) {
        return err;
    }
    /* mbedtls_pk_verify takes a non-const context in 2.x. */
    mbedtls_pk_context *pk = (mbedtls_pk_context *)&key->pk;
    int ret = mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, digest, 32, sig, sig_len);
    if (ret != 0) {
        PAKU_OTA_LOGW(TAG, "signature does not verify (mbedtls -0x%04x)", (unsigned)-ret);
        return PAKU_OTA_ERR_SIGNATURE_INVALID;
    }
    return PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_base64_decode(const char *in, uint8_t *out, size_t out_size,
                                      size_t *out_len)
{
    if (in == NULL || out == NULL || out_len == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out_len = 0;
    size_t olen = 0;
    int ret = mbedtls_base64_decode(out, out_size, &olen, (const unsigned char *)in, strlen(in));
    if (ret != 0) {
        return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
    }
    *out_len = olen;
    return PAKU_OTA_OK;
}
