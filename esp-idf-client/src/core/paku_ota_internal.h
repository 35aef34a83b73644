/*
 * Internal interfaces of the portable core. Not installed, not public API;
 * the unit tests include this header to test each piece on its own.
 */
#ifndef PAKU_OTA_INTERNAL_H
#define PAKU_OTA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paku_ota.h"
#include "paku_ota_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Small string helpers (C99, bounded) -------------------------------- */

/** Length of s, at most max (reads at most max+1 bytes). */
size_t paku_ota_strnlen(const char *s, size_t max);
/** Copy src into dst of size dst_size; returns false (dst = "") when src does
 *  not fit. */
bool paku_ota_strcpy_checked(char *dst, size_t dst_size, const char *src);
/** ASCII case-insensitive equality. */
bool paku_ota_str_ieq(const char *a, const char *b);
/** Whether s is exactly 64 hex digits (either case). */
bool paku_ota_is_sha256_hex(const char *s);
/** Lower-case a string in place (ASCII). */
void paku_ota_str_lower(char *s);
/** Digest bytes to lower-case hex (out must hold 2*len+1). */
void paku_ota_hex_encode(const uint8_t *data, size_t len, char *out);

/** Room for a uint64_t in decimal with its terminator. */
#define PAKU_OTA_U64_STR_SIZE 21
/** A uint64_t in decimal, written into out (PAKU_OTA_U64_STR_SIZE bytes);
 *  returns out. The core prints 64-bit numbers through this, never with a
 *  64-bit printf conversion:
 *  newlib-nano (the default libc of small ESP chips) has no 64-bit printf. */
const char *paku_ota_u64_str(uint64_t v, char *out);

/* ---- SemVer ------------------------------------------------------------- */

/** A parsed version. pre points into the parsed string (no copy). */
typedef struct {
    uint64_t major;
    uint64_t minor;
    uint64_t patch;
    const char *pre; /**< pre-release identifiers, without '-'; NULL if none */
    size_t pre_len;
} paku_ota_semver_t;

/** Parse s (must outlive out). PAKU_OTA_ERR_INVALID_VERSION when invalid. */
paku_ota_err_t paku_ota_semver_parse(const char *s, paku_ota_semver_t *out);
/** -1, 0, 1 by precedence. */
int paku_ota_semver_cmp(const paku_ota_semver_t *a, const paku_ota_semver_t *b);

/* ---- Check response ------------------------------------------------------- */

typedef enum {
    PAKU_OTA_SIG_NONE = 0,
    PAKU_OTA_SIG_RSA_PKCS1V15_SHA256,
    PAKU_OTA_SIG_ECDSA_P256_SHA256,
} paku_ota_sig_alg_t;

/** A validated check response. */
typedef struct {
    bool update_available;
    char latest_version[PAKU_OTA_VERSION_MAX_LEN + 1];
    char download_url[PAKU_OTA_DOWNLOAD_URL_MAX_LEN + 1];
    char checksum_sha256[PAKU_OTA_SHA256_HEX_LEN + 1]; /**< lower-case */
    uint64_t size_bytes;
    uint8_t signature[PAKU_OTA_SIGNATURE_MAX_LEN];
    size_t signature_len;                              /**< 0: unsigned */
    paku_ota_sig_alg_t signature_algorithm;
    char rollout[PAKU_OTA_ROLLOUT_MAX_LEN + 1];
    bool is_rollback;
    bool has_next_check;
    uint32_t next_check_seconds; /**< clamped to [MIN, MAX] below */
} paku_ota_check_response_t;

#define PAKU_OTA_NEXT_CHECK_MIN_S 10u
#define PAKU_OTA_NEXT_CHECK_MAX_S (7u * 24u * 3600u)
/** Deepest JSON nesting accepted (the contract needs 1; cJSON recurses). */
#define PAKU_OTA_JSON_MAX_DEPTH 8

/**
 * Parse and validate a check response body. Never reads past len; the body
 * need not be NUL-terminated. On error *detail names the offending field
 * (static string) when detail is not NULL.
 */
paku_ota_err_t paku_ota_parse_check_response(const char *body, size_t len,
                                             paku_ota_check_response_t *out,
                                             const char **detail);

/* ---- The image's own description (esp_app_desc_t) ------------------------ */

/** An ESP app image starts with esp_image_header_t (24 bytes) and the first
 *  esp_image_segment_header_t (8 bytes); esp_app_desc_t follows at offset 32:
 *  magic_word (0xABCD5432), secure_version, two reserved words, version[32],
 *  project_name[32], ... The core needs the bytes up to project_name's end. */
#define PAKU_OTA_APP_DESC_OFFSET 32u
#define PAKU_OTA_APP_DESC_HEAD 112u
#define PAKU_OTA_IMAGE_MAGIC 0xE9u
#define PAKU_OTA_APP_DESC_MAGIC 0xABCD5432u

typedef struct {
    uint32_t secure_version;
    char version[33];
    char project_name[33];
} paku_ota_app_desc_t;

/** Read the description from an image's first PAKU_OTA_APP_DESC_HEAD bytes.
 *  PAKU_OTA_ERR_IMAGE_DESC when they are not an ESP app image with one. */
paku_ota_err_t paku_ota_app_desc_parse(const uint8_t *head, size_t len,
                                       paku_ota_app_desc_t *out);

/* ---- HTTP helpers ---------------------------------------------------------- */

/** Parse "bytes START-END/TOTAL" (TOTAL may not be '*'). */
bool paku_ota_parse_content_range(const char *v, uint64_t *start, uint64_t *end,
                                  uint64_t *total);
/** Parse Retry-After delta-seconds (HTTP-date is not supported → false). */
bool paku_ota_parse_retry_after(const char *v, uint32_t *seconds);
/** Strip W/ and quotes from an ETag and lower-case it into out. */
bool paku_ota_etag_value(const char *v, char *out, size_t out_size);
/** Percent-encode s into out (RFC 3986 unreserved kept). */
bool paku_ota_url_encode(const char *s, char *out, size_t out_size);

/* ---- Hashing and signatures (mbedTLS) --------------------------------------- */

/** Opaque-size storage for a SHA-256 context (defined in image_verify.c). */
typedef struct paku_ota_sha256 paku_ota_sha256_t;

paku_ota_sha256_t *paku_ota_sha256_new(void);
void paku_ota_sha256_free(paku_ota_sha256_t *h);
paku_ota_err_t paku_ota_sha256_start(paku_ota_sha256_t *h);
paku_ota_err_t paku_ota_sha256_update(paku_ota_sha256_t *h, const uint8_t *data, size_t len);
paku_ota_err_t paku_ota_sha256_finish(paku_ota_sha256_t *h, uint8_t digest[32]);

/** A parsed signing public key. */
typedef struct paku_ota_sigkey paku_ota_sigkey_t;

/** Name of an algorithm as the server spells it ("none" for NONE). */
const char *paku_ota_sig_alg_name(paku_ota_sig_alg_t alg);
/** Parse a PEM public key (RSA >= 2048 bits or EC 256-bit).
 *  PAKU_OTA_ERR_CONFIG when it is not one. */
paku_ota_err_t paku_ota_sigkey_load(const char *pem, paku_ota_sigkey_t **out);
void paku_ota_sigkey_free(paku_ota_sigkey_t *key);
/** Whether the key can check signatures of algorithm alg. */
bool paku_ota_sigkey_accepts(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg);
/** "RSA" or "EC P-256" (for messages). */
const char *paku_ota_sigkey_kind_name(const paku_ota_sigkey_t *key);
/** Verify sig over a SHA-256 digest.
 *  PAKU_OTA_ERR_SIGNATURE_INVALID, PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH,
 *  PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM or PAKU_OTA_OK. */
paku_ota_err_t paku_ota_sigkey_verify(const paku_ota_sigkey_t *key, paku_ota_sig_alg_t alg,
                                      const uint8_t digest[32], const uint8_t *sig,
                                      size_t sig_len);
/** Decode standard base64 (padding required) into out. */
paku_ota_err_t paku_ota_base64_decode(const char *in, uint8_t *out, size_t out_size,
                                      size_t *out_len);

/* ---- Back-off --------------------------------------------------------------- */

/** Upper bound of attempt n (0-based): min(cap, base * 2^n), no overflow. */
uint64_t paku_ota_backoff_ceiling_ms(uint32_t attempt, uint32_t base_ms, uint64_t cap_ms);
/** Full jitter: a value in [0, ceiling] picked with rnd. */
uint64_t paku_ota_backoff_delay_ms(uint32_t attempt, uint32_t base_ms, uint64_t cap_ms,
                                   uint32_t rnd);

/* ---- Status reporting --------------------------------------------------------- */

/**
 * The device side of the update lifecycle for one target version:
 * IDLE → DOWNLOADING (reports at 0 %, then each further 10 %) → INSTALLING →
 * SUCCESS, or FAILED from any state. Reports that would go backwards or
 * repeat are not sent.
 */
typedef enum {
    PAKU_OTA_PHASE_IDLE = 0,
    PAKU_OTA_PHASE_DOWNLOADING,
    PAKU_OTA_PHASE_INSTALLING,
    PAKU_OTA_PHASE_SUCCESS,
    PAKU_OTA_PHASE_FAILED,
} paku_ota_phase_t;

/** Sends one report; returns PAKU_OTA_OK when the server accepted it. */
typedef paku_ota_err_t (*paku_ota_status_send_t)(void *user, paku_ota_status_t status,
                                                 int progress, const char *reason);

typedef struct {
    paku_ota_phase_t phase;
    int last_decile; /**< last progress decile reported, -1 none */
    paku_ota_status_send_t send;
    void *user;
} paku_ota_reporter_t;

void paku_ota_reporter_init(paku_ota_reporter_t *r, paku_ota_status_send_t send, void *user);
/** Progress of the download; sends `downloading` when a new decile is reached
 *  (always once at the first call). Returns whether a report was sent. */
bool paku_ota_reporter_progress(paku_ota_reporter_t *r, uint64_t done, uint64_t total);
bool paku_ota_reporter_installing(paku_ota_reporter_t *r);
bool paku_ota_reporter_success(paku_ota_reporter_t *r);
bool paku_ota_reporter_failed(paku_ota_reporter_t *r, const char *reason);

/** Build the status POST body into out. */
paku_ota_err_t paku_ota_status_json(const char *device_id, const char *version,
                                    paku_ota_status_t status, int progress,
                                    const char *reason, char *out, size_t out_size);
/** "downloading", "installing", "success", "failed". */
const char *paku_ota_status_name(paku_ota_status_t status);

/* ---- Outcome classification ----------------------------------------------------- */

/** Which outcome an error code means for paku_ota_check_and_update(). */
paku_ota_outcome_t paku_ota_outcome_for_err(paku_ota_err_t err);

#ifdef __cplusplus
}
#endif

#endif /* PAKU_OTA_INTERNAL_H */
