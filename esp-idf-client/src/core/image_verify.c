/*
 * Streaming SHA-256 and signature verification through PSA Crypto.
 *
 * One code path for Mbed TLS 2.28 (Debian, host tests), 3.x (ESP-IDF v5)
 * and 4.x (ESP-IDF v6, where PSA is the only crypto API: the mbedtls_sha256_*
 * functions are private and the PK layer lost its type queries). Only
 * calls that exist, unchanged, in all of them are used: psa_hash_*,
 * psa_import_key / psa_verify_hash, and the ASN.1 and base64 parsers.
 *
 * Signatures are what `openssl dgst -sha256 -sign key.pem -out fw.sig fw.bin`
 * produces: RSA PKCS#1 v1.5 (raw, key-size bytes) or ECDSA P-256 (DER), both
 * over the SHA-256 of the image. The key is the PEM SubjectPublicKeyInfo
 * that `openssl ... -pubout` writes ("BEGIN PUBLIC KEY").
 */
#include <stdlib.h>
#include <string.h>

#include "mbedtls/asn1.h"
#include "mbedtls/base64.h"
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

typedef enum {
    KEY_RSA,
    KEY_EC_P256,
} key_kind_t;

struct paku_ota_sigkey {
    mbedtls_svc_key_id_t id; /**< volatile PSA key, destroyed with the sigkey */
    key_kind_t kind;
    size_t bits;
};

#define PEM_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_END "-----END PUBLIC KEY-----"
#define P256_BITS 256u
#define P256_COORD_LEN 32u

/* DER contents of the OIDs of a SubjectPublicKeyInfo (RFC 3279, RFC 5480). */
static const uint8_t OID_RSA_ENCRYPTION[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_PRIME256V1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static bool oid_is(const mbedtls_asn1_buf *oid, const uint8_t *want, size_t want_len)
{
    return oid->tag == MBEDTLS_ASN1_OID && oid->len == want_len &&
           memcmp(oid->p, want, want_len) == 0;
}

/* The DER of the first "BEGIN PUBLIC KEY" block of pem; *der is malloc'ed. */
static paku_ota_err_t pem_to_der(const char *pem, uint8_t **der, size_t *der_len)
{
    const char *begin = strstr(pem, PEM_BEGIN);
    const char *end = begin != NULL ? strstr(begin, PEM_END) : NULL;
    if (end == NULL) {
        return PAKU_OTA_ERR_CONFIG;
    }
    begin += strlen(PEM_BEGIN);
    size_t b64_max = (size_t)(end - begin);
    char *b64 = malloc(b64_max + 1);
    *der = malloc(b64_max / 4 * 3 + 3);
    if (b64 == NULL || *der == NULL) {
        free(b64);
        free(*der);
        *der = NULL;
        return PAKU_OTA_ERR_NO_MEM;
    }
    size_t n = 0;
    for (const char *c = begin; c < end; c++) {
        if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t') {
            b64[n++] = *c;
        }
    }
    int ret = mbedtls_base64_decode(*der, b64_max / 4 * 3 + 3, der_len, (const unsigned char *)b64,
                                    n);
    free(b64);
    if (ret != 0) {
        free(*der);
        *der = NULL;
        return PAKU_OTA_ERR_CONFIG;
    }
    return PAKU_OTA_OK;
}

/* SubjectPublicKeyInfo → PSA key type and the key data psa_import_key takes
 * (RSAPublicKey DER for RSA, the uncompressed point for EC). */
static bool parse_spki(uint8_t *der, size_t der_len, psa_key_type_t *type, uint8_t **key,
                       size_t *key_len)
{
    unsigned char *p = der;
    const unsigned char *end = der + der_len;
    size_t len = 0;
    mbedtls_asn1_buf alg = {0};
    mbedtls_asn1_buf params = {0};
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0 ||
        p + len != end || mbedtls_asn1_get_alg(&p, end, &alg, &params) != 0 ||
        mbedtls_asn1_get_bitstring_null(&p, end, &len) != 0 || p + len != end) {
        return false;
    }
    if (oid_is(&alg, OID_RSA_ENCRYPTION, sizeof(OID_RSA_ENCRYPTION))) {
        *type = PSA_KEY_TYPE_RSA_PUBLIC_KEY;
    } else if (oid_is(&alg, OID_EC_PUBLIC_KEY, sizeof(OID_EC_PUBLIC_KEY)) &&
               oid_is(&params, OID_PRIME256V1, sizeof(OID_PRIME256V1))) {
        *type = PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1);
    } else {
        return false;
    }
    *key = p;
    *key_len = len;
    return true;
}

static psa_algorithm_t psa_alg_of(key_kind_t kind)
{
    return kind == KEY_RSA ? PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)
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
        err = pem_to_der(pem, &der, &der_len);
    }
    if (err != PAKU_OTA_OK) {
        if (err == PAKU_OTA_ERR_CONFIG) {
            PAKU_OTA_LOGE(TAG, "signing key is not a PEM public key (" PEM_BEGIN ")");
        }
        return err;
    }
    psa_key_type_t type = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    paku_ota_sigkey_t *key = NULL;
    if (!parse_spki(der, der_len, &type, &data, &len)) {
        err = PAKU_OTA_ERR_CONFIG;
    } else if ((key = calloc(1, sizeof(*key))) == NULL) {
        err = PAKU_OTA_ERR_NO_MEM;
    } else {
        key->kind = PSA_KEY_TYPE_IS_RSA(type) ? KEY_RSA : KEY_EC_P256;
        err = import_key(key, type, data, len);
    }
    free(der);
    if (err == PAKU_OTA_OK && key->kind == KEY_RSA &&
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

/* One INTEGER of an ECDSA-Sig-Value, left-padded into out[P256_COORD_LEN]. */
static bool der_int_to_raw(unsigned char **p, const unsigned char *end, uint8_t *out)
{
    size_t len = 0;
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0) {
        return false;
    }
    const unsigned char *v = *p;
    *p += len;
    if ((v[0] & 0x80u) != 0) {
        return false; /* negative */
    }
    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    if (len > P256_COORD_LEN) {
        return false;
    }
    memset(out, 0, P256_COORD_LEN - len);
    memcpy(out + P256_COORD_LEN - len, v, len);
    return true;
}

/* openssl writes ECDSA signatures as DER SEQUENCE { r, s }; PSA takes r || s. */
static bool ecdsa_der_to_raw(const uint8_t *sig, size_t sig_len, uint8_t raw[2 * P256_COORD_LEN])
{
    unsigned char *p = (unsigned char *)sig; /* the parser only reads through p */
    const unsigned char *end = sig + sig_len;
    size_t len = 0;
    return mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ==
               0 &&
           p + len == end && der_int_to_raw(&p, end, raw) &&
           der_int_to_raw(&p, end, raw + P256_COORD_LEN) && p == end;
}

paku_ota_err_t paku_ota_sigkey_verify(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg,
                                      const uint8_t digest[32], const uint8_t *sig,
                                      size_t sig_len)
{
    if (key == NULL || digest == NULL || sig == NULL || sig_len == 0) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    uint8_t raw[2 * P256_COORD_LEN];
    switch (alg) {
    case PAKU_OTA_SIG_RSA_PKCS1V15_SHA256:
        if (key->kind != KEY_RSA) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        if (sig_len != PSA_BITS_TO_BYTES(key->bits)) {
            return PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
        break;
    case PAKU_OTA_SIG_ECDSA_P256_SHA256:
        if (key->kind != KEY_EC_P256) {
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
        if (!ecdsa_der_to_raw(sig, sig_len, raw)) {
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
