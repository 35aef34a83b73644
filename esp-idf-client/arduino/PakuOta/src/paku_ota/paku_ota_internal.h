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
/** Deepest JSON nesting accepted (the contract needs 1). */
#define PAKU_OTA_JSON_MAX_DEPTH 8

/* ---- JSON reader (json.c) ------------------------------------------------ */

typedef enum {
    PAKU_OTA_JSON_ABSENT = 0,
    PAKU_OTA_JSON_NULL,
    PAKU_OTA_JSON_FALSE,
    PAKU_OTA_JSON_TRUE,
    PAKU_OTA_JSON_NUMBER,
    PAKU_OTA_JSON_STRING,
    PAKU_OTA_JSON_OBJECT,
    PAKU_OTA_JSON_ARRAY,
} paku_ota_json_type_t;

/** A value inside the body: for a string the text between its quotes (still
 *  escaped), otherwise the value's whole text. */
typedef struct {
    paku_ota_json_type_t type;
    const char *p;
    size_t len;
} paku_ota_json_value_t;

/** Whether body[0..len) is exactly one JSON value (RFC 8259, nesting at most
 *  PAKU_OTA_JSON_MAX_DEPTH, numbers of at most 40 characters), optionally
 *  surrounded by whitespace. PAKU_OTA_ERR_JSON_SYNTAX otherwise. */
paku_ota_err_t paku_ota_json_validate(const char *body, size_t len);
/** The first member called name of the object obj[0..len) (validated).
 *  false (out->type ABSENT) when there is none. */
bool paku_ota_json_member(const char *obj, size_t len, const char *name,
                          paku_ota_json_value_t *out);

/** Iterates over the bytes a JSON string stands for. */
typedef struct {
    const char *p;
    const char *end;
    uint8_t pend[3];
    uint8_t npend;
    uint8_t ipend;
} paku_ota_json_chars_t;

#define PAKU_OTA_JSON_CHARS_END (-1)
/** A lone surrogate or \u0000. */
#define PAKU_OTA_JSON_CHARS_BAD (-2)

void paku_ota_json_chars_init(paku_ota_json_chars_t *it, const paku_ota_json_value_t *v);
/** The next byte (0..255), PAKU_OTA_JSON_CHARS_END or PAKU_OTA_JSON_CHARS_BAD. */
int paku_ota_json_chars_next(paku_ota_json_chars_t *it);
/** The string v unescaped into out (size bytes with the terminator):
 *  PAKU_OTA_ERR_JSON_TOO_LONG when it does not fit, PAKU_OTA_ERR_JSON_SYNTAX
 *  for a lone surrogate or \u0000. */
paku_ota_err_t paku_ota_json_string(const paku_ota_json_value_t *v, char *out, size_t size);
/** The number v as a double (overflow gives HUGE_VAL, as strtod). */
bool paku_ota_json_number(const paku_ota_json_value_t *v, double *out);

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

/** The kinds of signing key. */
typedef enum {
    PAKU_OTA_KEY_RSA = 1,
    PAKU_OTA_KEY_EC_P256,
} paku_ota_key_kind_t;

/* ---- Hashing and signatures: the crypto backend interface -------------------
 * Implemented by image_verify.c (PSA Crypto on Mbed TLS 2.28/3.x/4.x) or by
 * image_verify_bearssl.c (BearSSL, the ESP8266 Arduino core), chosen at build
 * time by PAKU_OTA_CRYPTO_BEARSSL (paku_ota_crypto.h). */

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
/** What kind of key it is (backend). */
paku_ota_key_kind_t paku_ota_sigkey_kind(const paku_ota_sigkey_t *key);
/** Parse a PEM public key (RSA >= 2048 bits or EC 256-bit).
 *  PAKU_OTA_ERR_CONFIG when it is not one. */
paku_ota_err_t paku_ota_sigkey_load(const char *pem, paku_ota_sigkey_t **out);
void paku_ota_sigkey_free(paku_ota_sigkey_t *key);
/** Whether the key can check signatures of algorithm alg (encoding.c, through
 *  the backend's paku_ota_sigkey_kind). */
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

/* ---- Key and signature encodings (encoding.c) ------------------------------
 * Shared by the crypto backends (image_verify.c on PSA Crypto,
 * image_verify_bearssl.c on BearSSL): what a backend needs from a PEM public
 * key and an openssl ECDSA signature, parsed without any crypto library. */

/** An incremental base64 decoder (standard alphabet, padding required). */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
    uint32_t acc;
    uint8_t n;   /**< characters in acc */
    uint8_t pad; /**< '=' seen */
    bool bad;
} paku_ota_base64_t;

void paku_ota_base64_init(paku_ota_base64_t *b, uint8_t *out, size_t cap);
/** Feed one character (whitespace is the caller's business). */
void paku_ota_base64_put(paku_ota_base64_t *b, char c);
/** Whether the input was well-formed and fitted; *len the decoded size. */
bool paku_ota_base64_finish(paku_ota_base64_t *b, size_t *len);

/** A SubjectPublicKeyInfo's key: for RSA the modulus and exponent (big-endian,
 *  leading zeros stripped) and the RSAPublicKey DER; for EC P-256 the
 *  uncompressed point (65 bytes). Pointers into the caller's DER. */
typedef struct {
    paku_ota_key_kind_t kind;
    const uint8_t *key;   /**< RSAPublicKey DER, or the EC point */
    size_t key_len;
    const uint8_t *n;     /**< RSA modulus */
    size_t n_len;
    const uint8_t *e;     /**< RSA public exponent */
    size_t e_len;
    size_t bits;          /**< RSA modulus bits, 256 for EC */
} paku_ota_spki_t;

/** The DER of the first "BEGIN PUBLIC KEY" block of pem, malloc'ed.
 *  PAKU_OTA_ERR_CONFIG when there is none or it is not base64. */
paku_ota_err_t paku_ota_pem_public_key_der(const char *pem, uint8_t **der, size_t *der_len);
/** Parse a SubjectPublicKeyInfo (RFC 5280, RFC 3279, RFC 5480): RSA, or EC on
 *  prime256v1 with an uncompressed point. false for anything else. */
bool paku_ota_spki_parse(const uint8_t *der, size_t der_len, paku_ota_spki_t *out);
/** openssl's ECDSA-Sig-Value DER SEQUENCE { r, s } as r || s (32 bytes each). */
bool paku_ota_ecdsa_der_to_raw(const uint8_t *sig, size_t sig_len, uint8_t raw[64]);

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
