/*
 * Paku OTA device client — the one public header of the component.
 *
 * The client asks the Paku OTA server whether a newer firmware is offered,
 * streams it into the inactive OTA slot while hashing it, checks its SHA-256
 * and (when a signing key is configured) its signature, and only then makes
 * the new slot bootable. After the reboot it checks in with the server and
 * marks the new image valid, or rolls back when it cannot reach the server.
 *
 * Every public symbol carries the `paku_ota_` / `PAKU_OTA_` prefix. Functions
 * return `paku_ota_err_t` in the style of `esp_err_t`: PAKU_OTA_OK (0) on
 * success, one of the PAKU_OTA_ERR_* codes otherwise.
 *
 * Threading: a handle must be used by one task at a time. Nothing here is
 * re-entrant across handles that share a port.
 */
#ifndef PAKU_OTA_H
#define PAKU_OTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

/** Longest version string accepted (characters, without the terminator). */
#define PAKU_OTA_VERSION_MAX_LEN 128
/** Length of a SHA-256 digest written as hex. */
#define PAKU_OTA_SHA256_HEX_LEN 64
/** Longest relative download URL accepted from the server. */
#define PAKU_OTA_DOWNLOAD_URL_MAX_LEN 512
/** Longest server base URL (scheme, host, port, optional path prefix). */
#define PAKU_OTA_SERVER_URL_MAX_LEN 256
/** Largest decoded signature accepted (RSA-4096 would need 512 bytes). */
#define PAKU_OTA_SIGNATURE_MAX_LEN 512
/** Longest failure reason kept in a result or sent to the server. */
#define PAKU_OTA_REASON_MAX_LEN 160
/** Longest device id / device model accepted. */
#define PAKU_OTA_ID_MAX_LEN 64
/** Longest rollout name kept from a check response. */
#define PAKU_OTA_ROLLOUT_MAX_LEN 128
/** Largest image size accepted from a check response before the partition
 *  capacity is even asked (anything above is an absurd answer). */
#define PAKU_OTA_IMAGE_SIZE_SANITY_MAX (1024ULL * 1024ULL * 1024ULL)

/* ------------------------------------------------------------------------ */
/* Error codes                                                               */
/* ------------------------------------------------------------------------ */

/** Result code of every fallible function (compatible with esp_err_t: int). */
typedef int paku_ota_err_t;

#define PAKU_OTA_OK 0
#define PAKU_OTA_ERR_BASE 0x50A00

/** An argument was NULL, empty or out of range. */
#define PAKU_OTA_ERR_INVALID_ARG (PAKU_OTA_ERR_BASE + 0x01)
/** Memory for the handle, its buffer or the JSON parser was not available. */
#define PAKU_OTA_ERR_NO_MEM (PAKU_OTA_ERR_BASE + 0x02)
/** A version string is not SemVer 2.0 (see paku_ota_version_is_valid). */
#define PAKU_OTA_ERR_INVALID_VERSION (PAKU_OTA_ERR_BASE + 0x03)
/** The configuration is unusable (bad URL, unparsable signing key, ...). */
#define PAKU_OTA_ERR_CONFIG (PAKU_OTA_ERR_BASE + 0x04)
/** The operation is not supported by this port (e.g. resume after reboot). */
#define PAKU_OTA_ERR_NOT_SUPPORTED (PAKU_OTA_ERR_BASE + 0x05)
/** A buffer given to the function is too small for the result. */
#define PAKU_OTA_ERR_BUFFER_TOO_SMALL (PAKU_OTA_ERR_BASE + 0x06)

/** The check response is not JSON, or not a JSON object. */
#define PAKU_OTA_ERR_JSON_SYNTAX (PAKU_OTA_ERR_BASE + 0x10)
/** A required field of the check response is missing. */
#define PAKU_OTA_ERR_JSON_MISSING_FIELD (PAKU_OTA_ERR_BASE + 0x11)
/** A field of the check response has the wrong JSON type. */
#define PAKU_OTA_ERR_JSON_WRONG_TYPE (PAKU_OTA_ERR_BASE + 0x12)
/** A string field of the check response is longer than its limit. */
#define PAKU_OTA_ERR_JSON_TOO_LONG (PAKU_OTA_ERR_BASE + 0x13)
/** checksum_sha256 is not 64 hex digits. */
#define PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT (PAKU_OTA_ERR_BASE + 0x14)
/** size_bytes is not a positive integer within PAKU_OTA_IMAGE_SIZE_SANITY_MAX. */
#define PAKU_OTA_ERR_BAD_SIZE (PAKU_OTA_ERR_BASE + 0x15)
/** signature is not valid base64 or decodes to more than the limit. */
#define PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT (PAKU_OTA_ERR_BASE + 0x16)
/** signature_algorithm names an algorithm this client does not implement. */
#define PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM (PAKU_OTA_ERR_BASE + 0x17)
/** download_url is not a relative path ("/...") of printable characters. */
#define PAKU_OTA_ERR_BAD_URL (PAKU_OTA_ERR_BASE + 0x18)
/** The response body is larger than the configured maximum. */
#define PAKU_OTA_ERR_RESPONSE_TOO_LARGE (PAKU_OTA_ERR_BASE + 0x19)
/** Fields contradict each other (signature without algorithm, ...). */
#define PAKU_OTA_ERR_INCONSISTENT_RESPONSE (PAKU_OTA_ERR_BASE + 0x1A)

/** The connection failed or dropped (DNS, TCP, TLS, timeout, reset). */
#define PAKU_OTA_ERR_HTTP_TRANSPORT (PAKU_OTA_ERR_BASE + 0x20)
/** The server answered with an unexpected HTTP status. */
#define PAKU_OTA_ERR_HTTP_STATUS (PAKU_OTA_ERR_BASE + 0x21)
/** The server answered 429 or 503; see paku_ota_result_t.retry_after_s. */
#define PAKU_OTA_ERR_RATE_LIMITED (PAKU_OTA_ERR_BASE + 0x22)
/** Download headers disagree with the check (ETag / X-Checksum-SHA256,
 *  Content-Range, Content-Length) or the body overruns the announced size. */
#define PAKU_OTA_ERR_RESPONSE_MISMATCH (PAKU_OTA_ERR_BASE + 0x23)
/** The transfer was stopped by the client itself (internal use). */
#define PAKU_OTA_ERR_ABORTED (PAKU_OTA_ERR_BASE + 0x24)

/** The offered version is lower than the running one and no permitted
 *  rollback applies. */
#define PAKU_OTA_ERR_DOWNGRADE_REFUSED (PAKU_OTA_ERR_BASE + 0x30)
/** The offered version has the same precedence as the running one. */
#define PAKU_OTA_ERR_SAME_VERSION (PAKU_OTA_ERR_BASE + 0x31)
/** The downloaded image's SHA-256 differs from checksum_sha256. */
#define PAKU_OTA_ERR_CHECKSUM_MISMATCH (PAKU_OTA_ERR_BASE + 0x32)
/** The signature does not verify with the configured public key. */
#define PAKU_OTA_ERR_SIGNATURE_INVALID (PAKU_OTA_ERR_BASE + 0x33)
/** A signing key is configured but the release is unsigned. */
#define PAKU_OTA_ERR_SIGNATURE_MISSING (PAKU_OTA_ERR_BASE + 0x34)
/** The release's signature algorithm does not fit the configured key. */
#define PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH (PAKU_OTA_ERR_BASE + 0x35)
/** The image does not fit the inactive partition. */
#define PAKU_OTA_ERR_IMAGE_TOO_LARGE (PAKU_OTA_ERR_BASE + 0x36)
/** The image's own description (esp_app_desc_t) is missing, names another
 *  project, or states a version other than the offer's (or one the downgrade
 *  rule refuses). */
#define PAKU_OTA_ERR_IMAGE_DESC (PAKU_OTA_ERR_BASE + 0x37)
/** The image's secure_version is below what the chip's anti-rollback eFuse
 *  accepts. */
#define PAKU_OTA_ERR_SECURE_VERSION (PAKU_OTA_ERR_BASE + 0x38)

/** Writing, reading or finalising the inactive partition failed, or the
 *  platform refused the written image (esp_ota_end validation). */
#define PAKU_OTA_ERR_PARTITION (PAKU_OTA_ERR_BASE + 0x40)
/** Loading or saving the persistent state (NVS / state file) failed. */
#define PAKU_OTA_ERR_STATE (PAKU_OTA_ERR_BASE + 0x41)
/** An mbedTLS call failed for a reason other than a bad signature. */
#define PAKU_OTA_ERR_CRYPTO (PAKU_OTA_ERR_BASE + 0x42)
/** After an update the device came back on its previous version. */
#define PAKU_OTA_ERR_ROLLED_BACK (PAKU_OTA_ERR_BASE + 0x43)
/** The new image could not check in with the server and was rolled back. */
#define PAKU_OTA_ERR_CONFIRM_FAILED (PAKU_OTA_ERR_BASE + 0x44)

/**
 * @brief  Name of an error code ("PAKU_OTA_ERR_CHECKSUM_MISMATCH", ...).
 * @param  err  any value; unknown codes give "PAKU_OTA_ERR_UNKNOWN".
 * @return a static string, never NULL.
 */
const char *paku_ota_err_to_name(paku_ota_err_t err);

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * @brief  Whether a string is a version this client accepts.
 *
 * SemVer 2.0.0 with one optional leading 'v' or 'V'; numeric parts (major,
 * minor, patch and numeric pre-release identifiers) must fit in uint64_t;
 * no whitespace anywhere; at most PAKU_OTA_VERSION_MAX_LEN characters.
 *
 * @param  version  NUL-terminated string; NULL is invalid.
 * @return true when valid.
 */
bool paku_ota_version_is_valid(const char *version);

/**
 * @brief  Compare two versions by SemVer 2.0 precedence.
 *
 * Build metadata and the leading 'v' are ignored; numbers compare as numbers.
 *
 * @param      a    first version
 * @param      b    second version
 * @param[out] cmp  set to -1, 0 or 1 when a is lower, equal or higher than b
 * @return PAKU_OTA_OK, PAKU_OTA_ERR_INVALID_ARG (NULL pointer) or
 *         PAKU_OTA_ERR_INVALID_VERSION (either string invalid; cmp untouched).
 */
paku_ota_err_t paku_ota_version_compare(const char *a, const char *b, int *cmp);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

/** Update status reported to the server (and to the optional callback). */
typedef enum {
    PAKU_OTA_STATUS_DOWNLOADING = 0,
    PAKU_OTA_STATUS_INSTALLING,
    PAKU_OTA_STATUS_SUCCESS,
    PAKU_OTA_STATUS_FAILED,
} paku_ota_status_t;

/**
 * @brief  Optional observer of status reports.
 *
 * Called on the client's task right before each status is POSTed.
 * @param status    the status
 * @param version   the firmware version being installed
 * @param progress  0..100
 * @param reason    failure reason for PAKU_OTA_STATUS_FAILED, else NULL
 * @param user      config.status_cb_user
 */
typedef void (*paku_ota_status_cb_t)(paku_ota_status_t status, const char *version,
                                     int progress, const char *reason, void *user);

/**
 * Client configuration. Strings are borrowed: they must stay valid and
 * unchanged for the lifetime of the handle created from the configuration.
 * Start from paku_ota_config_default() and override what you need.
 */
typedef struct {
    /** Base URL of the server, e.g. "https://ota.example.com:8443". */
    const char *server_url;
    /** Device id; must equal the CN of the client certificate. */
    const char *device_id;
    /** Device model the releases are built for, e.g. "esp32". */
    const char *device_model;
    /** Running firmware version; NULL asks the port (app description on
     *  ESP-IDF, state file on the host). */
    const char *running_version;

    /** Fleet CA (PEM) the server certificate must chain to (ESP-IDF port;
     *  the host port takes file paths instead). */
    const char *ca_cert_pem;
    /** Device certificate (PEM) for mutual TLS (ESP-IDF port). */
    const char *client_cert_pem;
    /** Device private key (PEM) for mutual TLS (ESP-IDF port). */
    const char *client_key_pem;

    /** Firmware signing public key (PEM, RSA-2048+ or EC P-256). When set,
     *  every image must carry a signature that verifies with it; unsigned
     *  releases are refused. NULL or "" disables signature checks. */
    const char *signing_pubkey_pem;

    /** Accept a lower version when the server marks it `is_rollback`. */
    bool allow_downgrade;
    /** Accept an http:// server_url (no TLS: no server authentication, no
     *  device identity). Off by default; Kconfig PAKU_OTA_ALLOW_PLAIN_HTTP. */
    bool allow_plain_http;
    /** Verify the server with ESP-IDF's certificate bundle
     *  (esp_crt_bundle_attach) instead of ca_cert_pem. Only on ports that have
     *  the bundle (ESP-IDF with CONFIG_MBEDTLS_CERTIFICATE_BUNDLE). */
    bool use_cert_bundle;
    /** Read the image's own esp_app_desc_t from the first bytes downloaded and
     *  refuse it unless its version equals the offer (and obeys the downgrade
     *  rule) and its project name equals the running one. On by default on
     *  ESP-IDF; the host simulator's images carry no description. */
    bool verify_app_desc;

    /** Seconds between checks when the server does not say (and the upper
     *  bound of the back-off after failures). */
    uint32_t check_interval_s;
    /** When non-zero, download in Range requests of at most this many bytes
     *  over the one kept-alive connection; progress reports go out between
     *  them. 0 downloads in one request (resuming with Range after a drop), so
     *  only the 0 % and the final progress report are sent. */
    uint32_t range_request_size;
    /** Size of the one download / read-back buffer, bytes (>= 512). */
    uint32_t buffer_size;
    /** Largest check response accepted, bytes (>= 1024). */
    uint32_t max_response_size;
    /** Attempts per check and per download within one call (>= 1). */
    uint32_t max_attempts;
    /** Base and cap of the in-call retry back-off, milliseconds. */
    uint32_t retry_base_ms;
    uint32_t retry_max_ms;
    /** A Retry-After up to this many seconds is waited out within the call;
     *  a longer one ends the call and becomes its next_check_s. */
    uint32_t max_inline_retry_after_s;
    /** Check-in attempts after an update before rolling back (>= 1). Only
     *  attempts that got no HTTP answer at all count: any answer from the
     *  server proves the new image can reach it. */
    uint32_t confirm_attempts;
    /** Persist the resume offset after this many new bytes (>= buffer). */
    uint32_t state_save_interval;
    /** Network timeout per request, milliseconds. */
    uint32_t http_timeout_ms;

    /** Optional status observer and its argument. */
    paku_ota_status_cb_t status_cb;
    void *status_cb_user;
} paku_ota_config_t;

/**
 * @brief  Fill a configuration with defaults.
 *
 * On ESP-IDF the defaults come from Kconfig (menuconfig → Paku OTA), including
 * the fleet CA and signing key when their PEM files are configured there. On
 * the host they are built-in constants and all strings are NULL.
 *
 * @param[out] cfg  configuration to fill; NULL is ignored.
 */
void paku_ota_config_default(paku_ota_config_t *cfg);

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

/** Platform services used by the client (HTTP, flash, NVS, time). The
 *  definition is in the component's port header; applications only pass
 *  pointers around. */
typedef struct paku_ota_port paku_ota_port_t;

/** Opaque client handle. */
typedef struct paku_ota_client *paku_ota_handle_t;

/** What a call achieved. */
typedef enum {
    PAKU_OTA_OUTCOME_NONE = 0,   /**< nothing to do (no pending confirmation) */
    PAKU_OTA_OUTCOME_UP_TO_DATE, /**< server offers nothing newer */
    PAKU_OTA_OUTCOME_UPDATED,    /**< new image verified and set to boot; restart to run it */
    PAKU_OTA_OUTCOME_CONFIRMED,  /**< new image checked in and was marked valid */
    PAKU_OTA_OUTCOME_REFUSED,    /**< offer refused: downgrade, checksum, signature, size */
    PAKU_OTA_OUTCOME_FAILED,     /**< could not complete (flash, state, bad response, rollback) */
    PAKU_OTA_OUTCOME_HTTP_ERROR, /**< server unreachable or answered with an error status */
} paku_ota_outcome_t;

/** Details of a call, filled even when it fails. */
typedef struct {
    paku_ota_outcome_t outcome;
    /** Error code of the failure, PAKU_OTA_OK otherwise. */
    paku_ota_err_t err;
    /** HTTP status of the failed request, 0 when none. */
    int http_status;
    /** Version running when the call started. */
    char from_version[PAKU_OTA_VERSION_MAX_LEN + 1];
    /** Version offered / installed / being confirmed ("" when none). */
    char to_version[PAKU_OTA_VERSION_MAX_LEN + 1];
    /** Offset the last resumed download continued from (0: no resume). */
    uint64_t resumed_at;
    /** Size of the offered image in bytes (0 when none). */
    uint64_t image_size;
    /** Server's Retry-After for 429/503, seconds (0 when none). */
    uint32_t retry_after_s;
    /** When to call paku_ota_check_and_update() next, seconds: the server's
     *  next_check_seconds after a successful check, Retry-After after 429/503,
     *  a jittered exponential back-off after other failures. */
    uint32_t next_check_s;
    /** Human-readable reason of a refusal or failure ("" otherwise). */
    char reason[PAKU_OTA_REASON_MAX_LEN];
} paku_ota_result_t;

/**
 * @brief  Create a client.
 *
 * Validates the configuration, parses the signing key (when configured) and
 * allocates the handle with its one download buffer. No network traffic.
 *
 * @param      cfg   configuration (copied; its strings are borrowed)
 * @param      port  platform services, e.g. paku_ota_port_esp_idf(); must
 *                   outlive the handle
 * @param[out] out   the new handle
 * @return PAKU_OTA_OK, PAKU_OTA_ERR_INVALID_ARG, PAKU_OTA_ERR_CONFIG or
 *         PAKU_OTA_ERR_NO_MEM.
 */
paku_ota_err_t paku_ota_create(const paku_ota_config_t *cfg, const paku_ota_port_t *port,
                               paku_ota_handle_t *out);

/**
 * @brief  Free a client. NULL is ignored.
 */
void paku_ota_destroy(paku_ota_handle_t handle);

/**
 * @brief  Settle the first boot after an update. Call once early after boot.
 *
 * When the running image is waiting for confirmation, checks in with the
 * server (current_version = the new version, which confirms it there) up to
 * confirm_attempts times. On success the image is marked valid
 * (esp_ota_mark_app_valid_cancel_rollback). When every attempt fails it is
 * marked invalid and the device reboots into the previous image
 * (esp_ota_mark_app_invalid_rollback_and_reboot; the host port switches back
 * and returns PAKU_OTA_ERR_CONFIRM_FAILED). When the device came back on its
 * previous version instead, reports `failed` for the update.
 *
 * @param      handle  client
 * @param[out] result  optional details (outcome NONE when nothing was pending)
 * @return PAKU_OTA_OK when nothing was pending or the image was confirmed;
 *         PAKU_OTA_ERR_ROLLED_BACK, PAKU_OTA_ERR_CONFIRM_FAILED or a port error.
 */
paku_ota_err_t paku_ota_confirm_boot(paku_ota_handle_t handle, paku_ota_result_t *result);

/**
 * @brief  Check once and install what is offered.
 *
 * GET /api/firmware/check; when an update is offered and acceptable, streams
 * it into the inactive slot (resuming an earlier partial download of the same
 * image), verifies SHA-256 and signature, reports downloading (every 10 %),
 * installing, success or failed, and sets the new slot to boot. Does not
 * restart: the caller does (see paku_ota_restart()).
 *
 * @param      handle  client
 * @param[out] result  optional details; result->next_check_s says when to
 *                     call again
 * @return PAKU_OTA_OK when up to date or updated; otherwise the error that
 *         ended the attempt (the result's outcome classifies it).
 */
paku_ota_err_t paku_ota_check_and_update(paku_ota_handle_t handle, paku_ota_result_t *result);

/**
 * @brief  Restart into the image set to boot (esp_restart on ESP-IDF; the host
 *         port records the new running version and returns).
 */
void paku_ota_restart(paku_ota_handle_t handle);

/**
 * @brief  Run forever: confirm the boot, then check at the server's pace,
 *         backing off after failures, and restart after an update.
 *
 * Meant to be the body of a dedicated FreeRTOS task. Returns only when the
 * port's restart returns (host) and `max_cycles` checks were made (0 means
 * never).
 *
 * @param handle      client
 * @param max_cycles  number of checks before returning, 0 for no limit
 * @return the error of the last check.
 */
paku_ota_err_t paku_ota_run(paku_ota_handle_t handle, uint32_t max_cycles);

/**
 * @brief  Name of an outcome ("up-to-date", "updated", "refused", ...).
 * @return a static string, never NULL.
 */
const char *paku_ota_outcome_to_name(paku_ota_outcome_t outcome);

#if defined(ESP_PLATFORM)
/**
 * @brief  The ESP-IDF port: esp_http_client (mutual TLS with the PEMs from
 *         the configuration, one kept-alive connection per call), esp_ota_ops
 *         on the next update partition, the resume state in its own NVS
 *         namespace of CONFIG_PAKU_OTA_NVS_PARTITION (initialised if needed,
 *         never erased).
 * @return a static port object, never NULL.
 */
const paku_ota_port_t *paku_ota_port_esp_idf(void);
#endif

#ifdef __cplusplus
}
#endif

#endif /* PAKU_OTA_H */
