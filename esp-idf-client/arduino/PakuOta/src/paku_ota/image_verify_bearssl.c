/*
 * Streaming SHA-256 and signature verification through BearSSL: the crypto
 * backend of the ESP8266 Arduino core, which ships BearSSL (its TLS stack)
 * and no Mbed TLS. Same interface and same acceptance rules as the PSA Crypto
 * backend (image_verify.c): keys and ECDSA signatures are parsed by the
 * core's own encoding.c in both, so only the arithmetic differs.
 *
 * Chosen with PAKU_OTA_CRYPTO_BEARSSL (paku_ota_crypto.h); otherwise this file
 * compiles to nothing. Only BearSSL 0.6 API is used (Debian's libbearssl-dev
 * for the host tests, the ESP8266 core's fork in tools/sdk/include/bearssl).
 */
#include "paku_ota_crypto.h"

#if PAKU_OTA_CRYPTO_BEARSSL

#include <stdlib.h>
#include <string.h>

#include <bearssl/bearssl.h>

#include "paku_ota_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

struct paku_ota_sha256 {
    br_sha256_context ctx;
    bool started;
};

paku_ota_sha256_t *paku_ota_sha256_new(void)
{
    return calloc(1, sizeof(paku_ota_sha256_t));
}

void paku_ota_sha256_free(paku_ota_sha256_t *h)
{
    free(h);
}

paku_ota_err_t paku_ota_sha256_start(paku_ota_sha256_t *h)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    br_sha256_init(&h->ctx);
    h->started = true;
    return PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_sha256_update(paku_ota_sha256_t *h, const uint8_t *data, size_t len)
{
    if (h == NULL || !h->started || (data == NULL && len > 0)) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    br_sha256_update(&h->ctx, data, len);
    return PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_sha256_finish(paku_ota_sha256_t *h, uint8_t digest[32])
{
    if (h == NULL || !h->started || digest == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    h->started = false;
    br_sha256_out(&h->ctx, digest);
    return PAKU_OTA_OK;
}

/* The key's numbers are copied out of the DER (which is freed after load). */
struct paku_ota_sigkey {
    paku_ota_key_kind_t kind;
    size_t bits;
    br_rsa_public_key rsa; /* n, e point into data */
    br_ec_public_key ec;   /* q points into data */
    uint8_t data[];
};

static paku_ota_sigkey_t *sigkey_from_spki(const paku_ota_spki_t *spki)
{
    size_t len = spki->kind == PAKU_OTA_KEY_RSA ? spki->n_len + spki->e_len : spki->key_len;
    paku_ota_sigkey_t *key = calloc(1, sizeof(*key) + len);
    if (key == NULL) {
        return NULL;
    }
    key->kind = spki->kind;
    key->bits = spki->bits;
    if (spki->kind == PAKU_OTA_KEY_RSA) {
        memcpy(key->data, spki->n, spki->n_len);
        memcpy(key->data + spki->n_len, spki->e, spki->e_len);
        key->rsa.n = key->data;
        key->rsa.nlen = spki->n_len;
        key->rsa.e = key->data + spki->n_len;
        key->rsa.elen = spki->e_len;
    } else {
        memcpy(key->data, spki->key, spki->key_len);
        key->ec.curve = BR_EC_secp256r1;
        key->ec.q = key->data;
        key->ec.qlen = spki->key_len;
    }
    return key;
}

paku_ota_err_t paku_ota_sigkey_load(const char *pem, paku_ota_sigkey_t **out)
{
    if (pem == NULL || out == NULL || pem[0] == '\0') {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    paku_ota_err_t err = paku_ota_pem_public_key_der(pem, &der, &der_len);
    if (err != PAKU_OTA_OK) {
        if (err == PAKU_OTA_ERR_CONFIG) {
            PAKU_OTA_LOGE(TAG, "signing key is not a PEM public key (BEGIN PUBLIC KEY)");
        }
        return err;
    }
    paku_ota_spki_t spki;
    if (!paku_ota_spki_parse(der, der_len, &spki)) {
        PAKU_OTA_LOGE(TAG, "signing key must be an RSA or EC P-256 SubjectPublicKeyInfo");
        err = PAKU_OTA_ERR_CONFIG;
    } else if (spki.kind == PAKU_OTA_KEY_RSA &&
               (spki.bits < 2048 || spki.bits > PAKU_OTA_SIGNATURE_MAX_LEN * 8)) {
        PAKU_OTA_LOGE(TAG, "signing key must be RSA-2048..4096 or EC P-256 (got %u-bit RSA)",
                      (unsigned)spki.bits);
        err = PAKU_OTA_ERR_CONFIG;
    } else if ((*out = sigkey_from_spki(&spki)) == NULL) {
        err = PAKU_OTA_ERR_NO_MEM;
    }
    free(der);
    return err;
}

void paku_ota_sigkey_free(paku_ota_sigkey_t *key)
{
    free(key);
}

paku_ota_key_kind_t paku_ota_sigkey_kind(const paku_ota_sigkey_t *key)
{
    return key->kind;
}

/* PKCS#1 v1.5: BearSSL recovers the DigestInfo's hash (checking the padding
 * and the SHA-256 OID); it must equal ours. */
static bool rsa_verifies(const paku_ota_sigkey_t *key, const uint8_t digest[32],
                         const uint8_t *sig, size_t sig_len)
{
    uint8_t recovered[32];
    if (sig_len != (key->bits + 7) / 8) {
        return false;
    }
    br_rsa_pkcs1_vrfy vrfy = br_rsa_pkcs1_vrfy_get_default();
    return vrfy(sig, sig_len, BR_HASH_OID_SHA256, sizeof(recovered), &key->rsa, recovered) == 1 &&
           memcmp(recovered, digest, sizeof(recovered)) == 0;
}

static bool ecdsa_verifies(const paku_ota_sigkey_t *key, const uint8_t digest[32],
                           const uint8_t *sig, size_t sig_len)
{
    uint8_t raw[64]; /* r || s */
    if (!paku_ota_ecdsa_der_to_raw(sig, sig_len, raw)) {
        return false;
    }
    br_ecdsa_vrfy vrfy = br_ecdsa_vrfy_raw_get_default();
    return vrfy(br_ec_get_default(), digest, 32, &key->ec, raw, sizeof(raw)) == 1;
}

paku_ota_err_t paku_ota_sigkey_verify(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg,
                                      const uint8_t digest[32], const uint8_t *sig,
                                      size_t sig_len)
{
    if (key == NULL || digest == NULL || sig == NULL || sig_len == 0) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    bool ok;
    switch (alg) {
    case PAKU_OTA_SIG_RSA_PKCS1V15_SHA256:
        if (key->kind != PAKU_OTA_KEY_RSA) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        ok = rsa_verifies(key, digest, sig, sig_len);
        break;
    case PAKU_OTA_SIG_ECDSA_P256_SHA256:
        if (key->kind != PAKU_OTA_KEY_EC_P256) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        ok = ecdsa_verifies(key, digest, sig, sig_len);
        break;
    default:
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    if (!ok) {
        PAKU_OTA_LOGW(TAG, "signature does not verify (BearSSL)");
        return PAKU_OTA_ERR_SIGNATURE_INVALID;
    }
    return PAKU_OTA_OK;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int paku_ota_image_verify_bearssl_unused_t;
#endif /* PAKU_OTA_CRYPTO_BEARSSL */
