/*
 * Parsing of GET /api/firmware/check responses with the core's bounded JSON
 * reader (json.c).
 *
 * The body comes from the network, so every field is treated as hostile:
 * the whole document is validated before any field is read, types are
 * checked, strings are length-bounded while they are unescaped, sizes must be
 * sane integers, the checksum must be 64 hex digits, the download URL must be
 * a relative path on the same server. Nesting is limited up front, so a
 * deeply nested document costs neither stack nor time.
 */
#include <math.h>
#include <string.h>

#include "paku_ota_internal.h"

/* The validated body whose members are read. */
typedef struct {
    const char *body;
    size_t len;
} doc_t;

#define ALG_RSA "rsa-pkcs1v15-sha256"
#define ALG_ECDSA "ecdsa-p256-sha256"

/* Base64 of PAKU_OTA_SIGNATURE_MAX_LEN bytes, with padding. */
#define SIGNATURE_B64_MAX (((PAKU_OTA_SIGNATURE_MAX_LEN + 2) / 3) * 4)

const char *paku_ota_sig_alg_name(paku_ota_sig_alg_t alg)
{
    switch (alg) {
    case PAKU_OTA_SIG_RSA_PKCS1V15_SHA256:
        return ALG_RSA;
    case PAKU_OTA_SIG_ECDSA_P256_SHA256:
        return ALG_ECDSA;
    case PAKU_OTA_SIG_NONE:
        break;
    }
    return "none";
}

static bool nesting_within_limit(const char *body, size_t len)
{
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > PAKU_OTA_JSON_MAX_DEPTH) {
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

static paku_ota_json_value_t member(const doc_t *doc, const char *name)
{
    paku_ota_json_value_t v;
    (void)paku_ota_json_member(doc->body, doc->len, name, &v);
    return v;
}

static bool is_null_or_absent(const paku_ota_json_value_t *v)
{
    return v->type == PAKU_OTA_JSON_ABSENT || v->type == PAKU_OTA_JSON_NULL;
}

/* Copies an optional string field. Absent or null gives "". */
static paku_ota_err_t optional_string(const doc_t *doc, const char *name, char *out,
                                      size_t out_size, const char **detail)
{
    paku_ota_json_value_t item = member(doc, name);
    if (out != NULL && out_size > 0) {
        out[0] = '\0';
    }
    if (is_null_or_absent(&item)) {
        return PAKU_OTA_OK;
    }
    *detail = name;
    if (item.type != PAKU_OTA_JSON_STRING) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    if (out == NULL) {
        *detail = NULL;
        return PAKU_OTA_OK; /* type-checked only */
    }
    paku_ota_err_t err = paku_ota_json_string(&item, out, out_size);
    if (err == PAKU_OTA_OK) {
        *detail = NULL;
    }
    return err;
}

/* A required string copied into out (size bytes): absent/null is
 * MISSING_FIELD, one that does not fit JSON_TOO_LONG. */
static paku_ota_err_t required_copy(const doc_t *doc, const char *name, char *out, size_t size,
                                   const char **detail)
{
    paku_ota_json_value_t item = member(doc, name);
    *detail = name;
    if (is_null_or_absent(&item)) {
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    if (item.type != PAKU_OTA_JSON_STRING) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    paku_ota_err_t err = paku_ota_json_string(&item, out, size);
    if (err == PAKU_OTA_OK) {
        *detail = NULL;
    }
    return err;
}

static paku_ota_err_t optional_bool(const doc_t *doc, const char *name, bool *out,
                                    const char **detail)
{
    paku_ota_json_value_t item = member(doc, name);
    *out = false;
    if (is_null_or_absent(&item)) {
        return PAKU_OTA_OK;
    }
    if (item.type != PAKU_OTA_JSON_TRUE && item.type != PAKU_OTA_JSON_FALSE) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    *out = item.type == PAKU_OTA_JSON_TRUE;
    return PAKU_OTA_OK;
}

static bool valid_download_url(const char *url)
{
    /* A path on this server: "/..." but not "//host/..." (scheme-relative). */
    if (url[0] != '/' || url[1] == '/') {
        return false;
    }
    for (const char *p = url; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7F || c == '\\') {
            return false;
        }
    }
    return true;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

static paku_ota_err_t parse_identity(const doc_t *doc, paku_ota_check_response_t *out,
                                     const char **detail)
{
    paku_ota_err_t err = required_copy(doc, "latest_version", out->latest_version,
                                       sizeof(out->latest_version), detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!paku_ota_version_is_valid(out->latest_version)) {
        *detail = "latest_version";
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    err = required_copy(doc, "download_url", out->download_url, sizeof(out->download_url),
                        detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!valid_download_url(out->download_url)) {
        *detail = "download_url";
        return PAKU_OTA_ERR_BAD_URL;
    }
    err = required_copy(doc, "checksum_sha256", out->checksum_sha256,
                        sizeof(out->checksum_sha256), detail);
    if (err == PAKU_OTA_ERR_JSON_TOO_LONG ||
        (err == PAKU_OTA_OK && !paku_ota_is_sha256_hex(out->checksum_sha256))) {
        *detail = "checksum_sha256";
        return PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT;
    }
    paku_ota_str_lower(out->checksum_sha256);
    return err;
}

static paku_ota_err_t parse_size(const doc_t *doc, paku_ota_check_response_t *out,
                                 const char **detail)
{
    paku_ota_json_value_t size = member(doc, "size_bytes");
    *detail = "size_bytes";
    if (is_null_or_absent(&size)) {
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    double d = 0.0;
    if (!paku_ota_json_number(&size, &d)) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    if (!(d >= 1.0) || d > (double)PAKU_OTA_IMAGE_SIZE_SANITY_MAX || floor(d) != d) {
        return PAKU_OTA_ERR_BAD_SIZE;
    }
    out->size_bytes = (uint64_t)d;
    *detail = NULL;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_algorithm(const paku_ota_json_value_t *alg,
                                      paku_ota_check_response_t *out, const char **detail)
{
    if (is_null_or_absent(alg)) {
        return PAKU_OTA_OK;
    }
    *detail = "signature_algorithm";
    if (alg->type != PAKU_OTA_JSON_STRING) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    char name[sizeof(ALG_RSA) > sizeof(ALG_ECDSA) ? sizeof(ALG_RSA) : sizeof(ALG_ECDSA)];
    if (paku_ota_json_string(alg, name, sizeof(name)) != PAKU_OTA_OK) {
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    if (strcmp(name, ALG_RSA) == 0) {
        out->signature_algorithm = PAKU_OTA_SIG_RSA_PKCS1V15_SHA256;
    } else if (strcmp(name, ALG_ECDSA) == 0) {
        out->signature_algorithm = PAKU_OTA_SIG_ECDSA_P256_SHA256;
    } else {
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    *detail = NULL;
    return PAKU_OTA_OK;
}

/* Standard padded base64 only (what .NET and openssl base64 emit), decoded
 * while it is unescaped: System.Text.Json writes '+' as \u002B. */
static paku_ota_err_t decode_signature(const paku_ota_json_value_t *sig,
                                       paku_ota_check_response_t *out)
{
    paku_ota_json_chars_t it;
    paku_ota_base64_t b64;
    paku_ota_json_chars_init(&it, sig);
    paku_ota_base64_init(&b64, out->signature, sizeof(out->signature));
    size_t n = 0;
    for (int c = paku_ota_json_chars_next(&it); c != PAKU_OTA_JSON_CHARS_END;
         c = paku_ota_json_chars_next(&it)) {
        if (c < 0 || !is_base64_char((char)c) || ++n > SIGNATURE_B64_MAX) {
            return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
        }
        paku_ota_base64_put(&b64, (char)c);
    }
    if (n == 0 || n % 4 != 0 || !paku_ota_base64_finish(&b64, &out->signature_len) ||
        out->signature_len == 0) {
        return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_signature_value(const paku_ota_json_value_t *sig,
                                            paku_ota_check_response_t *out, const char **detail)
{
    if (is_null_or_absent(sig)) {
        return PAKU_OTA_OK;
    }
    *detail = "signature";
    if (sig->type != PAKU_OTA_JSON_STRING) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    paku_ota_err_t err = decode_signature(sig, out);
    if (err != PAKU_OTA_OK) {
        out->signature_len = 0;
        return err;
    }
    *detail = NULL;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_signature(const doc_t *doc, paku_ota_check_response_t *out,
                                      const char **detail)
{
    paku_ota_json_value_t alg = member(doc, "signature_algorithm");
    paku_ota_err_t err = parse_algorithm(&alg, out, detail);
    if (err == PAKU_OTA_OK) {
        paku_ota_json_value_t sig = member(doc, "signature");
        err = parse_signature_value(&sig, out, detail);
    }
    if (err == PAKU_OTA_OK &&
        (out->signature_len > 0) != (out->signature_algorithm != PAKU_OTA_SIG_NONE)) {
        *detail = "signature/signature_algorithm";
        err = PAKU_OTA_ERR_INCONSISTENT_RESPONSE;
    }
    return err;
}

static paku_ota_err_t parse_offer(const doc_t *doc, paku_ota_check_response_t *out,
                                  const char **detail)
{
    paku_ota_err_t err = parse_identity(doc, out, detail);
    if (err == PAKU_OTA_OK) {
        err = parse_size(doc, out, detail);
    }
    if (err == PAKU_OTA_OK) {
        err = parse_signature(doc, out, detail);
    }
    if (err == PAKU_OTA_OK) {
        err = optional_string(doc, "rollout", out->rollout, sizeof(out->rollout), detail);
    }
    if (err == PAKU_OTA_OK) {
        err = optional_bool(doc, "is_rollback", &out->is_rollback, detail);
    }
    return err;
}

/* next_check_seconds, clamped rather than refused: an odd pace must not stop
 * updates. */
static paku_ota_err_t parse_next_check(const doc_t *doc, paku_ota_check_response_t *out,
                                       const char **detail)
{
    paku_ota_json_value_t next = member(doc, "next_check_seconds");
    if (is_null_or_absent(&next)) {
        return PAKU_OTA_OK;
    }
    double d = 0.0;
    if (!paku_ota_json_number(&next, &d)) {
        *detail = "next_check_seconds";
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    if (!(d >= (double)PAKU_OTA_NEXT_CHECK_MIN_S)) {
        out->next_check_seconds = PAKU_OTA_NEXT_CHECK_MIN_S;
    } else if (d > (double)PAKU_OTA_NEXT_CHECK_MAX_S) {
        out->next_check_seconds = PAKU_OTA_NEXT_CHECK_MAX_S;
    } else {
        out->next_check_seconds = (uint32_t)d;
    }
    out->has_next_check = true;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_root(const doc_t *doc, paku_ota_check_response_t *out,
                                 const char **detail)
{
    const char *p = doc->body;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++; /* the document is validated: a value follows */
    }
    if (*p != '{') {
        *detail = "(root)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    paku_ota_json_value_t avail = member(doc, "update_available");
    if (avail.type == PAKU_OTA_JSON_ABSENT) {
        *detail = "update_available";
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    if (avail.type != PAKU_OTA_JSON_TRUE && avail.type != PAKU_OTA_JSON_FALSE) {
        *detail = "update_available";
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    out->update_available = avail.type == PAKU_OTA_JSON_TRUE;

    paku_ota_err_t err = parse_next_check(doc, out, detail);
    /* Informational fields: type-checked, never needed to act. */
    if (err == PAKU_OTA_OK) {
        err = optional_string(doc, "current_version", NULL, 0, detail);
    }
    if (err == PAKU_OTA_OK) {
        err = optional_string(doc, "release_notes", NULL, 0, detail);
    }
    if (err != PAKU_OTA_OK || !out->update_available) {
        return err;
    }
    return parse_offer(doc, out, detail);
}

paku_ota_err_t paku_ota_parse_check_response(const char *body, size_t len,
                                             paku_ota_check_response_t *out,
                                             const char **detail)
{
    const char *ignored = NULL;
    if (detail == NULL) {
        detail = &ignored;
    }
    *detail = NULL;
    if (body == NULL || out == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof(*out));
    if (len == 0 || memchr(body, '\0', len) != NULL) {
        *detail = "(body)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    if (!nesting_within_limit(body, len)) {
        *detail = "(nesting)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    if (paku_ota_json_validate(body, len) != PAKU_OTA_OK) {
        *detail = "(body)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    doc_t doc = {body, len};
    paku_ota_err_t err = parse_root(&doc, out, detail);
    if (err != PAKU_OTA_OK) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}
