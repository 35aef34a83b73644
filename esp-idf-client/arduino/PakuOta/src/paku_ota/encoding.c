/*
 * Base64, PEM and the little DER the signature check needs, without a crypto
 * library: the two crypto backends (PSA Crypto, BearSSL) share it, so a key
 * or signature is accepted or refused the same way on every platform.
 *
 * The DER reader is strict where it matters (definite lengths that fit,
 * nothing after the structure, the exact OIDs) and reads only within the
 * given buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"

/* ---- base64 --------------------------------------------------------------- */

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    return c == '/' ? 63 : -1;
}

void paku_ota_base64_init(paku_ota_base64_t *b, uint8_t *out, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->out = out;
    b->cap = cap;
}

static void b64_emit(paku_ota_base64_t *b, uint8_t v)
{
    if (b->len >= b->cap) {
        b->bad = true;
        return;
    }
    b->out[b->len++] = v;
}

void paku_ota_base64_put(paku_ota_base64_t *b, char c)
{
    if (b->bad) {
        return;
    }
    int v = b64_value(c);
    if (c == '=') {
        /* padding only in the last two places of a quad */
        b->bad = b->n < 2;
        b->pad++;
        v = 0;
    } else if (v < 0 || b->pad > 0) {
        b->bad = true; /* not base64, or data after padding */
        return;
    }
    b->acc = (b->acc << 6) | (uint32_t)v;
    if (++b->n < 4) {
        return;
    }
    int bytes = 3 - b->pad;
    for (int i = 0; i < bytes; i++) {
        b64_emit(b, (uint8_t)(b->acc >> (16 - 8 * i)));
    }
    b->n = 0;
    b->acc = 0;
    if (b->pad > 0) {
        b->pad = 3; /* complete: nothing may follow */
    }
}

bool paku_ota_base64_finish(paku_ota_base64_t *b, size_t *len)
{
    *len = 0;
    if (b->bad || b->n != 0) {
        return false;
    }
    *len = b->len;
    return true;
}

paku_ota_err_t paku_ota_base64_decode(const char *in, uint8_t *out, size_t out_size,
                                      size_t *out_len)
{
    if (in == NULL || out == NULL || out_len == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_base64_t b;
    paku_ota_base64_init(&b, out, out_size);
    for (const char *c = in; *c != '\0'; c++) {
        paku_ota_base64_put(&b, *c);
    }
    return paku_ota_base64_finish(&b, out_len) ? PAKU_OTA_OK : PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
}

/* ---- PEM ------------------------------------------------------------------ */

#define PEM_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_END "-----END PUBLIC KEY-----"

paku_ota_err_t paku_ota_pem_public_key_der(const char *pem, uint8_t **der, size_t *der_len)
{
    const char *begin = strstr(pem, PEM_BEGIN);
    const char *end = begin != NULL ? strstr(begin, PEM_END) : NULL;
    *der = NULL;
    *der_len = 0;
    if (end == NULL) {
        return PAKU_OTA_ERR_CONFIG;
    }
    begin += strlen(PEM_BEGIN);
    size_t cap = (size_t)(end - begin) / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        return PAKU_OTA_ERR_NO_MEM;
    }
    paku_ota_base64_t b;
    paku_ota_base64_init(&b, buf, cap);
    for (const char *c = begin; c < end; c++) {
        if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t') {
            paku_ota_base64_put(&b, *c);
        }
    }
    if (!paku_ota_base64_finish(&b, der_len) || *der_len == 0) {
        free(buf);
        return PAKU_OTA_ERR_CONFIG;
    }
    *der = buf;
    return PAKU_OTA_OK;
}

/* ---- DER ------------------------------------------------------------------ */

#define DER_INTEGER 0x02u
#define DER_BIT_STRING 0x03u
#define DER_NULL 0x05u
#define DER_OID 0x06u
#define DER_SEQUENCE 0x30u

/* A cursor over DER bytes. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} der_t;

/* One element with tag `tag`: *inner gets its contents, d moves past it. */
static bool der_take(der_t *d, uint8_t tag, der_t *inner)
{
    if (d->end - d->p < 2 || d->p[0] != tag) {
        return false;
    }
    const uint8_t *p = d->p + 1;
    size_t len = *p++;
    if (len & 0x80u) {
        size_t n = len & 0x7Fu;
        if (n == 0 || n > 2 || (size_t)(d->end - p) < n) {
            return false; /* indefinite, or longer than any key here */
        }
        len = 0;
        for (size_t i = 0; i < n; i++) {
            len = (len << 8) | *p++;
        }
    }
    if ((size_t)(d->end - p) < len) {
        return false;
    }
    inner->p = p;
    inner->end = p + len;
    d->p = p + len;
    return true;
}

static bool der_is(const der_t *d, const uint8_t *want, size_t want_len)
{
    return (size_t)(d->end - d->p) == want_len && memcmp(d->p, want, want_len) == 0;
}

/* A non-negative INTEGER's magnitude without leading zeros. */
static bool der_unsigned(der_t *d, const uint8_t **v, size_t *len)
{
    der_t i;
    if (!der_take(d, DER_INTEGER, &i) || i.p == i.end || (i.p[0] & 0x80u) != 0) {
        return false;
    }
    while (i.end - i.p > 1 && i.p[0] == 0) {
        i.p++;
    }
    *v = i.p;
    *len = (size_t)(i.end - i.p);
    return true;
}

/* DER contents of the OIDs of a SubjectPublicKeyInfo (RFC 3279, RFC 5480). */
static const uint8_t OID_RSA_ENCRYPTION[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_PRIME256V1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

#define P256_POINT_LEN 65u

static bool spki_rsa(der_t key, paku_ota_spki_t *out)
{
    der_t seq;
    if (!der_take(&key, DER_SEQUENCE, &seq) || key.p != key.end ||
        !der_unsigned(&seq, &out->n, &out->n_len) || !der_unsigned(&seq, &out->e, &out->e_len) ||
        seq.p != seq.end || out->n[0] == 0) {
        return false;
    }
    size_t bits = out->n_len * 8;
    for (uint8_t top = out->n[0]; (top & 0x80u) == 0; top = (uint8_t)(top << 1)) {
        bits--;
    }
    out->kind = PAKU_OTA_KEY_RSA;
    out->bits = bits;
    return true;
}

bool paku_ota_spki_parse(const uint8_t *der, size_t der_len, paku_ota_spki_t *out)
{
    der_t d = {der, der + der_len};
    der_t spki;
    der_t alg;
    der_t oid;
    der_t bits;
    memset(out, 0, sizeof(*out));
    if (!der_take(&d, DER_SEQUENCE, &spki) || d.p != d.end ||
        !der_take(&spki, DER_SEQUENCE, &alg) || !der_take(&alg, DER_OID, &oid) ||
        !der_take(&spki, DER_BIT_STRING, &bits) || spki.p != spki.end ||
        bits.p == bits.end || bits.p[0] != 0) {
        return false;
    }
    der_t key = {bits.p + 1, bits.end}; /* after the unused-bits octet */
    out->key = key.p;
    out->key_len = (size_t)(key.end - key.p);
    if (der_is(&oid, OID_RSA_ENCRYPTION, sizeof(OID_RSA_ENCRYPTION))) {
        der_t null_param;
        /* parameters: NULL (or absent) */
        if (alg.p != alg.end && (!der_take(&alg, DER_NULL, &null_param) || alg.p != alg.end)) {
            return false;
        }
        return spki_rsa(key, out);
    }
    der_t curve;
    if (!der_is(&oid, OID_EC_PUBLIC_KEY, sizeof(OID_EC_PUBLIC_KEY)) ||
        !der_take(&alg, DER_OID, &curve) || alg.p != alg.end ||
        !der_is(&curve, OID_PRIME256V1, sizeof(OID_PRIME256V1)) ||
        out->key_len != P256_POINT_LEN || key.p[0] != 0x04) {
        return false;
    }
    out->kind = PAKU_OTA_KEY_EC_P256;
    out->bits = 256;
    return true;
}

#define P256_COORD_LEN 32u

/* One INTEGER of an ECDSA-Sig-Value, left-padded into out[P256_COORD_LEN]. */
static bool ecdsa_coord(der_t *d, uint8_t *out)
{
    const uint8_t *v = NULL;
    size_t len = 0;
    if (!der_unsigned(d, &v, &len) || len > P256_COORD_LEN) {
        return false;
    }
    memset(out, 0, P256_COORD_LEN - len);
    memcpy(out + P256_COORD_LEN - len, v, len);
    return true;
}

bool paku_ota_ecdsa_der_to_raw(const uint8_t *sig, size_t sig_len, uint8_t raw[64])
{
    der_t d = {sig, sig + sig_len};
    der_t seq;
    return der_take(&d, DER_SEQUENCE, &seq) && d.p == d.end && ecdsa_coord(&seq, raw) &&
           ecdsa_coord(&seq, raw + P256_COORD_LEN) && seq.p == seq.end;
}

/* ---- What a parsed key is for (both backends) ------------------------------ */

bool paku_ota_sigkey_accepts(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg)
{
    if (key == NULL) {
        return false;
    }
    paku_ota_key_kind_t kind = paku_ota_sigkey_kind(key);
    return (alg == PAKU_OTA_SIG_RSA_PKCS1V15_SHA256 && kind == PAKU_OTA_KEY_RSA) ||
           (alg == PAKU_OTA_SIG_ECDSA_P256_SHA256 && kind == PAKU_OTA_KEY_EC_P256);
}

const char *paku_ota_sigkey_kind_name(const paku_ota_sigkey_t *key)
{
    if (key == NULL) {
        return "none";
    }
    return paku_ota_sigkey_kind(key) == PAKU_OTA_KEY_RSA ? "RSA" : "EC P-256";
}
