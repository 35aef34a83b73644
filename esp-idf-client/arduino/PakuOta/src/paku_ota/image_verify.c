/*
 * Streaming SHA-256 and signature verification through PSA Crypto.
 *
 * One code path for Mbed TLS 2.28 (Debian, host tests), 3.x (ESP-IDF v5)
 * and 4.x (ESP-IDF v6, where PSA is the only crypto API: the mbedtls_sha256_*
 * functions are private and the PK layer lost its type queries). Only
 * calls that exist, unchanged, in all of them are used: psa_hash_*,
 * psa_import_key / psa_verify_hash. PEM, DER and base64 are the core's own
 * (encoding.c), shared with the BearSSL backend.
 *
 * Signatures are what `openssl dgst -sha256 -sign key.pem -out fw.sig fw.bin`
 * produces: RSA PKCS#1 v1.5 (raw, key-size bytes) or ECDSA P-256 (DER), both
 * over the SHA-256 of the image. The key is the PEM SubjectPublicKeyInfo
 * that `openssl ... -pubout` writes ("BEGIN PUBLIC KEY").
 */
#include "paku_ota_crypto.h"

#if !PAKU_OTA_CRYPTO_BEARSSL

#include <stdlib.h>
#include <string.h>

#include "psa/crypto.h"

#include "paku_ota_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

/* psa_crypto_init() is idempotent; required before any other PSA call. */
static paku_ota_err_t crypto_init(void)
{
    return psa_crypto_init() == PSA_SUCCESS ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

struct paku_ota_sha256 {
    psa_hash_operation_t op;
    bool started;
};

paku_ota_sha256_t *paku_ota_sha256_new(void)
{
    /* All-zero is a valid initial psa_hash_operation_t (as `= {0}`); assigning
     * psa_hash_operation_init() would put a ~250-byte temporary on the stack. */
    return calloc(1, sizeof(paku_ota_sha256_t));
}

void paku_ota_sha256_free(paku_ota_sha256_t *h)
{
    if (h != NULL) {
        (void)psa_hash_abort(&h->op);
        free(h);
    }
}

paku_ota_err_t paku_ota_sha256_start(paku_ota_sha256_t *h)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    h->started = false;
    if (crypto_init() != PAKU_OTA_OK) {
        return PAKU_OTA_ERR_CRYPTO;
    }
    /* Abort first so a context abandoned mid-stream starts clean. */
    (void)psa_hash_abort(&h->op);
    h->started = psa_hash_setup(&h->op, PSA_ALG_SHA_256) == PSA_SUCCESS;
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
    return psa_hash_update(&h->op, data, len) == PSA_SUCCESS ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

paku_ota_err_t paku_ota_sha256_finish(paku_ota_sha256_t *h, uint8_t digest[32])
{
    if (h == NULL || !h->started || digest == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    h->started = false;
    size_t len = 0;
    psa_status_t st = psa_hash_finish(&h->op, digest, 32, &len);
    return st == PSA_SUCCESS && len == 32 ? PAKU_OTA_OK : PAKU_OTA_ERR_CRYPTO;
}

struct paku_ota_sigkey {
    mbedtls_svc_key_id_t id; /**< volatile PSA key, destroyed with the sigkey */
    paku_ota_key_kind_t kind;
    size_t bits;
};

static psa_algorithm_t psa_alg_of(paku_ota_key_kind_t kind)
{
    return kind == PAKU_OTA_KEY_RSA ? PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)
                           : PSA_ALG_ECDSA(PSA_ALG_SHA_256);
}

/* Imports the key for verification; *bits is its size. */
static paku_ota_err_t import_key(paku_ota_sigkey_t *key, psa_key_type_t type,
                                 const uint8_t *data, size_t len)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&attr, psa_alg_of(key->kind));
    psa_set_key_type(&attr, type);
    psa_status_t st = psa_import_key(&attr, data, len, &key->id);
    psa_reset_key_attributes(&attr);
    if (st != PSA_SUCCESS) {
        PAKU_OTA_LOGE(TAG, "signing key not accepted by PSA Crypto (%d)", (int)st);
        return PAKU_OTA_ERR_CONFIG;
    }
    st = psa_get_key_attributes(key->id, &attr);
    key->bits = psa_get_key_bits(&attr);
    psa_reset_key_attributes(&attr);
    if (st != PSA_SUCCESS) {
        (void)psa_destroy_key(key->id);
        return PAKU_OTA_ERR_CRYPTO;
    }
    return PAKU_OTA_OK;
}

/* The PSA key type and import data of a parsed SubjectPublicKeyInfo
 * (RSAPublicKey DER for RSA, the uncompressed point for EC). */
static psa_key_type_t psa_type_of(const paku_ota_spki_t *spki)
{
    return spki->kind == PAKU_OTA_KEY_RSA ? PSA_KEY_TYPE_RSA_PUBLIC_KEY
                                          : PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1);
}

paku_ota_err_t paku_ota_sigkey_load(const char *pem, paku_ota_sigkey_t **out)
{
    if (pem == NULL || out == NULL || pem[0] == '\0') {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    paku_ota_err_t err = crypto_init();
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (err == PAKU_OTA_OK) {
        err = paku_ota_pem_public_key_der(pem, &der, &der_len);
    }
    if (err != PAKU_OTA_OK) {
        if (err == PAKU_OTA_ERR_CONFIG) {
            PAKU_OTA_LOGE(TAG, "signing key is not a PEM public key (BEGIN PUBLIC KEY)");
        }
        return err;
    }
    paku_ota_spki_t spki;
    paku_ota_sigkey_t *key = NULL;
    if (!paku_ota_spki_parse(der, der_len, &spki)) {
        err = PAKU_OTA_ERR_CONFIG;
    } else if ((key = calloc(1, sizeof(*key))) == NULL) {
        err = PAKU_OTA_ERR_NO_MEM;
    } else {
        key->kind = spki.kind;
        err = import_key(key, psa_type_of(&spki), spki.key, spki.key_len);
    }
    free(der);
    if (err == PAKU_OTA_OK && key->kind == PAKU_OTA_KEY_RSA &&
        (key->bits < 2048 || key->bits > PAKU_OTA_SIGNATURE_MAX_LEN * 8)) {
        PAKU_OTA_LOGE(TAG, "signing key must be RSA-2048..4096 or EC P-256 (got %u-bit RSA)",
                      (unsigned)key->bits);
        (void)psa_destroy_key(key->id);
        err = PAKU_OTA_ERR_CONFIG;
    } else if (err == PAKU_OTA_ERR_CONFIG && key == NULL) {
        PAKU_OTA_LOGE(TAG, "signing key must be an RSA or EC P-256 SubjectPublicKeyInfo");
    }
    if (err != PAKU_OTA_OK) {
        free(key);
        return err;
    }
    *out = key;
    return PAKU_OTA_OK;
}

void paku_ota_sigkey_free(paku_ota_sigkey_t *key)
{
    if (key != NULL) {
        (void)psa_destroy_key(key->id);
        free(key);
    }
}

paku_ota_key_kind_t paku_ota_sigkey_kind(const paku_ota_sigkey_t *key)
{
    return key->kind;
}

paku_ota_err_t paku_ota_sigkey_verify(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg,
                                      const uint8_t digest[32], const uint8_t *sig,
                                      size_t sig_len)
{
    if (key == NULL || digest == NULL || sig == NULL || sig_len == 0) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    uint8_t raw[64]; /* r || s of P-256 */
    switch (alg) {
    case PAKU_OTA_SIG_RSA_PKCS1V15_SHA256:
        if (key->kind != PAKU_OTA_KEY_RSA) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        if (sig_len != PSA_BITS_TO_BYTES(key->bits)) {
            return PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
        break;
    case PAKU_OTA_SIG_ECDSA_P256_SHA256:
        if (key->kind != PAKU_OTA_KEY_EC_P256) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        if (!paku_ota_ecdsa_der_to_raw(sig, sig_len, raw)) {
            return PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
        sig = raw;
        sig_len = sizeof(raw);
        break;
    default:
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    paku_ota_err_t err = crypto_init();
    if (err != PAKU_OTA_OK) {
        return err;
    }
    psa_status_t st = psa_verify_hash(key->id, psa_alg_of(key->kind), digest, 32, sig, sig_len);
    if (st != PSA_SUCCESS) {
        PAKU_OTA_LOGW(TAG, "signature does not verify (psa %d)", (int)st);
        return PAKU_OTA_ERR_SIGNATURE_INVALID;
    }
    return PAKU_OTA_OK;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int paku_ota_image_verify_psa_unused_t;
#endif /* !PAKU_OTA_CRYPTO_BEARSSL */
