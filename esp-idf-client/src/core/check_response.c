/*
 * Parsing of GET /api/firmware/check responses with cJSON.
 *
 * The body comes from the network, so every field is treated as hostile:
 * types are checked, strings are length-bounded before they are copied,
 * sizes must be sane integers, the checksum must be 64 hex digits, the
 * download URL must be a relative path on the same server. Nesting is
 * limited before cJSON (which recurses) ever sees the body, so a deeply
 * nested document cannot exhaust a small task stack.
 */
#include <math.h>
#include <string.h>

#include "cJSON.h"
#include "paku_ota_internal.h"

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

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_null_or_absent(const cJSON *item)
{
    return item == NULL || cJSON_IsNull(item);
}

/* Copies an optional string field. Absent or null gives "". */
static paku_ota_err_t optional_string(const cJSON *root, const char *name, char *out,
                                      size_t out_size, const char **detail)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (out != NULL && out_size > 0) {
        out[0] = '\0';
    }
    if (is_null_or_absent(item)) {
        return PAKU_OTA_OK;
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    if (out == NULL) {
        return PAKU_OTA_OK; /* type-checked only */
    }
    if (!paku_ota_strcpy_checked(out, out_size, item->valuestring)) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_TOO_LONG;
    }
    return PAKU_OTA_OK;
}

/* A required string: absent/null is MISSING_FIELD. */
static paku_ota_err_t required_string(const cJSON *root, const char *name, const char **value,
                                      const char **detail)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (is_null_or_absent(item)) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    *value = item->valuestring;
    return PAKU_OTA_OK;
}

static paku_ota_err_t optional_bool(const cJSON *root, const char *name, bool *out,
                                    const char **detail)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    *out = false;
    if (is_null_or_absent(item)) {
        return PAKU_OTA_OK;
    }
    if (!cJSON_IsBool(item)) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    *out = cJSON_IsTrue(item) ? true : false;
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

/* A required string copied into out (size bytes), or the error naming it. */
static paku_ota_err_t required_copy(const cJSON *root, const char *name, char *out, size_t size,
                                   const char **detail)
{
    const char *s = NULL;
    paku_ota_err_t err = required_string(root, name, &s, detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!paku_ota_strcpy_checked(out, size, s)) {
        *detail = name;
        return PAKU_OTA_ERR_JSON_TOO_LONG;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_identity(const cJSON *root, paku_ota_check_response_t *out,
                                     const char **detail)
{
    paku_ota_err_t err = required_copy(root, "latest_version", out->latest_version,
                                       sizeof(out->latest_version), detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!paku_ota_version_is_valid(out->latest_version)) {
        *detail = "latest_version";
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    err = required_copy(root, "download_url", out->download_url, sizeof(out->download_url),
                        detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!valid_download_url(out->download_url)) {
        *detail = "download_url";
        return PAKU_OTA_ERR_BAD_URL;
    }
    const char *s = NULL;
    err = required_string(root, "checksum_sha256", &s, detail);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!paku_ota_is_sha256_hex(s)) {
        *detail = "checksum_sha256";
        return PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT;
    }
    memcpy(out->checksum_sha256, s, PAKU_OTA_SHA256_HEX_LEN + 1);
    paku_ota_str_lower(out->checksum_sha256);
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_size(const cJSON *root, paku_ota_check_response_t *out,
                                 const char **detail)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "size_bytes");
    *detail = "size_bytes";
    if (is_null_or_absent(size)) {
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    if (!cJSON_IsNumber(size)) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    double d = size->valuedouble;
    if (!(d >= 1.0) || d > (double)PAKU_OTA_IMAGE_SIZE_SANITY_MAX || floor(d) != d) {
        return PAKU_OTA_ERR_BAD_SIZE;
    }
    out->size_bytes = (uint64_t)d;
    *detail = NULL;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_algorithm(const cJSON *alg, paku_ota_check_response_t *out,
                                      const char **detail)
{
    if (is_null_or_absent(alg)) {
        return PAKU_OTA_OK;
    }
    *detail = "signature_algorithm";
    if (!cJSON_IsString(alg) || alg->valuestring == NULL) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    if (strcmp(alg->valuestring, ALG_RSA) == 0) {
        out->signature_algorithm = PAKU_OTA_SIG_RSA_PKCS1V15_SHA256;
    } else if (strcmp(alg->valuestring, ALG_ECDSA) == 0) {
        out->signature_algorithm = PAKU_OTA_SIG_ECDSA_P256_SHA256;
    } else {
        return PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM;
    }
    *detail = NULL;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_signature_value(const cJSON *sig, paku_ota_check_response_t *out,
                                            const char **detail)
{
    if (is_null_or_absent(sig)) {
        return PAKU_OTA_OK;
    }
    *detail = "signature";
    if (!cJSON_IsString(sig) || sig->valuestring == NULL) {
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    size_t n = paku_ota_strnlen(sig->valuestring, SIGNATURE_B64_MAX + 1);
    /* Standard padded base64 only (what .NET and openssl base64 emit). */
    if (n == 0 || n > SIGNATURE_B64_MAX || n % 4 != 0) {
        return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_base64_char(sig->valuestring[i])) {
            return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
        }
    }
    paku_ota_err_t err = paku_ota_base64_decode(sig->valuestring, out->signature,
                                                sizeof(out->signature), &out->signature_len);
    if (err != PAKU_OTA_OK || out->signature_len == 0) {
        out->signature_len = 0;
        return PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT;
    }
    *detail = NULL;
    return PAKU_OTA_OK;
}

static paku_ota_err_t parse_signature(const cJSON *root, paku_ota_check_response_t *out,
                                      const char **detail)
{
    paku_ota_err_t err = parse_algorithm(
        cJSON_GetObjectItemCaseSensitive(root, "signature_algorithm"), out, detail);
    if (err == PAKU_OTA_OK) {
        err = parse_signature_value(cJSON_GetObjectItemCaseSensitive(root, "signature"), out,
                                    detail);
    }
    if (err == PAKU_OTA_OK &&
        (out->signature_len > 0) != (out->signature_algorithm != PAKU_OTA_SIG_NONE)) {
        *detail = "signature/signature_algorithm";
        err = PAKU_OTA_ERR_INCONSISTENT_RESPONSE;
    }
    return err;
}

static paku_ota_err_t parse_offer(const cJSON *root, paku_ota_check_response_t *out,
                                  const char **detail)
{
    paku_ota_err_t err = parse_identity(root, out, detail);
    if (err == PAKU_OTA_OK) {
        err = parse_size(root, out, detail);
    }
    if (err == PAKU_OTA_OK) {
        err = parse_signature(root, out, detail);
    }
    if (err == PAKU_OTA_OK) {
        err = optional_string(root, "rollout", out->rollout, sizeof(out->rollout), detail);
    }
    if (err == PAKU_OTA_OK) {
        err = optional_bool(root, "is_rollback", &out->is_rollback, detail);
    }
    return err;
}

static paku_ota_err_t parse_root(const cJSON *root, paku_ota_check_response_t *out,
                                 const char **detail)
{
    if (!cJSON_IsObject(root)) {
        *detail = "(root)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    const cJSON *avail = cJSON_GetObjectItemCaseSensitive(root, "update_available");
    if (avail == NULL) {
        *detail = "update_available";
        return PAKU_OTA_ERR_JSON_MISSING_FIELD;
    }
    if (!cJSON_IsBool(avail)) {
        *detail = "update_available";
        return PAKU_OTA_ERR_JSON_WRONG_TYPE;
    }
    out->update_available = cJSON_IsTrue(avail) ? true : false;

    const cJSON *next = cJSON_GetObjectItemCaseSensitive(root, "next_check_seconds");
    if (!is_null_or_absent(next)) {
        if (!cJSON_IsNumber(next)) {
            *detail = "next_check_seconds";
            return PAKU_OTA_ERR_JSON_WRONG_TYPE;
        }
        double d = next->valuedouble;
        /* Clamped rather than refused: an odd pace must not stop updates. */
        if (!(d >= (double)PAKU_OTA_NEXT_CHECK_MIN_S)) {
            out->next_check_seconds = PAKU_OTA_NEXT_CHECK_MIN_S;
        } else if (d > (double)PAKU_OTA_NEXT_CHECK_MAX_S) {
            out->next_check_seconds = PAKU_OTA_NEXT_CHECK_MAX_S;
        } else {
            out->next_check_seconds = (uint32_t)d;
        }
        out->has_next_check = true;
    }

    /* Informational fields: type-checked, never needed to act. */
    paku_ota_err_t err = optional_string(root, "current_version", NULL, 0, detail);
    if (err == PAKU_OTA_OK) {
        err = optional_string(root, "release_notes", NULL, 0, detail);
    }
    if (err != PAKU_OTA_OK) {
        return err;
    }

    if (!out->update_available) {
        return PAKU_OTA_OK;
    }
    return parse_offer(root, out, detail);
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
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root == NULL) {
        *detail = "(body)";
        return PAKU_OTA_ERR_JSON_SYNTAX;
    }
    if (end != NULL) {
        /* Only whitespace may follow the document. */
        for (const char *p = end; p < body + len; p++) {
            if (!is_json_space(*p)) {
                cJSON_Delete(root);
                *detail = "(trailing data)";
                return PAKU_OTA_ERR_JSON_SYNTAX;
            }
        }
    }
    paku_ota_err_t err = parse_root(root, out, detail);
    cJSON_Delete(root);
    if (err != PAKU_OTA_OK) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}
