/*
 * The port interface: everything the portable core needs from a platform.
 *
 * Two ports exist: src/port/esp_idf (esp_http_client, esp_ota_ops, NVS) and
 * src/port/host (libcurl, a file for the inactive slot, a state file). The
 * unit tests add a scripted fake. A port is a table of function pointers plus
 * an opaque context passed back as the first argument of each.
 *
 * Contract for all functions: return PAKU_OTA_OK or a PAKU_OTA_ERR_* code;
 * never block forever (HTTP honours request->timeout_ms for inactivity).
 */
#ifndef PAKU_OTA_PORT_H
#define PAKU_OTA_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paku_ota.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- HTTP --------------------------------------------------------------- */

typedef enum {
    PAKU_OTA_HTTP_GET = 0,
    PAKU_OTA_HTTP_POST,
} paku_ota_http_method_t;

/** What a request is for; lets ports and tests tell them apart. */
typedef enum {
    PAKU_OTA_REQ_CHECK = 0,
    PAKU_OTA_REQ_DOWNLOAD,
    PAKU_OTA_REQ_STATUS,
} paku_ota_req_kind_t;

/** Capacity of each captured response header value (including NUL). A longer
 *  value is truncated; the core then fails to parse it and treats it as bad. */
#define PAKU_OTA_HEADER_VALUE_MAX 128
/** Capacity of the captured Location header (including NUL): a signed link to
 *  an offloaded image (base URL, /ab/<sha256>, md5 and expiry) fits easily. */
#define PAKU_OTA_LOCATION_MAX 384

/** Status and the response headers the core looks at. */
typedef struct {
    int status;                 /**< HTTP status code */
    bool has_content_length;
    uint64_t content_length;
    char content_range[PAKU_OTA_HEADER_VALUE_MAX]; /**< "" when absent */
    char etag[PAKU_OTA_HEADER_VALUE_MAX];          /**< "" when absent */
    char checksum_sha256[PAKU_OTA_HEADER_VALUE_MAX]; /**< X-Checksum-SHA256 */
    char retry_after[PAKU_OTA_HEADER_VALUE_MAX];   /**< "" when absent */
    /** Location of a 3xx answer, "" when absent. Ports never follow a
     *  redirect themselves: the core decides whether to. */
    char location[PAKU_OTA_LOCATION_MAX];
} paku_ota_http_response_t;

/**
 * Called once, after the status line and headers, before any body byte.
 * @return 0 to receive the body, or a PAKU_OTA_ERR_* code to stop the
 *         transfer (the port then returns PAKU_OTA_ERR_ABORTED).
 */
typedef int (*paku_ota_http_headers_cb_t)(void *user, const paku_ota_http_response_t *resp);

/**
 * Called for each piece of the body, in order.
 * @return 0 to continue, or a PAKU_OTA_ERR_* code to stop (the port then
 *         returns PAKU_OTA_ERR_ABORTED).
 */
typedef int (*paku_ota_http_body_cb_t)(void *user, const uint8_t *data, size_t len);

typedef struct {
    paku_ota_http_method_t method;
    paku_ota_req_kind_t kind;
    const char *url;                 /**< absolute URL */
    const char *content_type;        /**< POST only */
    const char *body;                /**< POST only */
    size_t body_len;
    /** Range request: bytes=range_start- (range_end == UINT64_MAX) or
     *  bytes=range_start-range_end (inclusive). */
    bool has_range;
    uint64_t range_start;
    uint64_t range_end;
    /** Scratch buffer a port may read the body into (the client's one fixed
     *  buffer); ports with their own buffers may ignore it. */
    uint8_t *buf;
    size_t buf_len;
    uint32_t timeout_ms;
    /** TLS material from the configuration (PEM); ports that take files
     *  (host) ignore these. */
    const char *ca_cert_pem;
    const char *client_cert_pem;
    const char *client_key_pem;
    /** Verify the server with the platform's certificate bundle. */
    bool use_cert_bundle;
    paku_ota_http_headers_cb_t on_headers; /**< may be NULL */
    paku_ota_http_body_cb_t on_body;       /**< may be NULL: body discarded */
    void *user;
} paku_ota_http_request_t;

/* ---- Persistent state ---------------------------------------------------- */

/**
 * What survives a reboot. Ports store each field (NVS keys, state file
 * lines); a missing store loads as all zero / empty.
 */
typedef struct {
    /** Bytes of the target image written to the inactive slot and known to
     *  be on flash. A resume restarts from here (ports may lower it). */
    uint64_t resume_offset;
    /** Size of the target image. */
    uint64_t image_size;
    /** Version being downloaded or waiting for confirmation ("" = none). */
    char target_version[PAKU_OTA_VERSION_MAX_LEN + 1];
    /** Lower-case hex SHA-256 the partial download belongs to. */
    char expected_sha256[PAKU_OTA_SHA256_HEX_LEN + 1];
    /** Set right before the new slot is made bootable; cleared once the new
     *  image checked in (or the device came back on the old one). */
    bool pending_confirm;
    /** Version that was running before the update (for rollback reports). */
    char previous_version[PAKU_OTA_VERSION_MAX_LEN + 1];
} paku_ota_persist_t;

/* ---- The port table -------------------------------------------------------- */

/** The port takes the TLS material from the configuration's PEM strings (so
 *  an https server needs ca_cert_pem or the certificate bundle). Ports that
 *  take files (host) leave it clear. */
#define PAKU_OTA_PORT_TLS_FROM_CONFIG 0x1u
/** The port can verify servers with a certificate bundle. */
#define PAKU_OTA_PORT_HAS_CERT_BUNDLE 0x2u

struct paku_ota_port {
    void *ctx;
    /** PAKU_OTA_PORT_* capability bits. */
    uint32_t flags;

    /** Perform one request; see the callback contracts above.
     *  @param[out] resp  status and headers (valid when PAKU_OTA_OK or
     *                    PAKU_OTA_ERR_ABORTED is returned)
     *  The port keeps its connection open between requests (HTTP/1.1
     *  keep-alive) until http_close; a request a callback aborted, or one
     *  that failed, closes it.
     *  @return PAKU_OTA_OK when the whole body was delivered,
     *          PAKU_OTA_ERR_ABORTED when a callback stopped it,
     *          PAKU_OTA_ERR_HTTP_TRANSPORT when the connection failed. */
    paku_ota_err_t (*http)(void *ctx, const paku_ota_http_request_t *req,
                           paku_ota_http_response_t *resp);
    /** End the kept-alive connection (the core calls it when a public call
     *  returns). May be NULL. */
    void (*http_close)(void *ctx);

    /** Start writing a new image of image_size bytes at offset 0, discarding
     *  any earlier partial image. PAKU_OTA_ERR_IMAGE_TOO_LARGE when it cannot
     *  fit. */
    paku_ota_err_t (*part_begin)(void *ctx, uint64_t image_size);
    /** Continue a partial image of image_size bytes. On entry *offset is the
     *  saved resume offset; the port may lower it (to a flash sector, to what
     *  it knows is written) and sets it to where writing continues.
     *  PAKU_OTA_ERR_NOT_SUPPORTED makes the core begin anew. */
    paku_ota_err_t (*part_resume)(void *ctx, uint64_t image_size, uint64_t *offset);
    /** Append data; offset always equals the bytes written so far. */
    paku_ota_err_t (*part_write)(void *ctx, uint64_t offset, const uint8_t *data, size_t len);
    /** Read back written bytes (used to re-hash on resume). */
    paku_ota_err_t (*part_read)(void *ctx, uint64_t offset, uint8_t *data, size_t len);
    /** Close the image and let the platform validate it (esp_ota_end). */
    paku_ota_err_t (*part_finish)(void *ctx);
    /** Drop an unfinished image (safe to call when nothing is open). */
    void (*part_abort)(void *ctx);
    /** Make the finished image the one to boot next. */
    paku_ota_err_t (*part_set_boot)(void *ctx, const char *version);

    paku_ota_err_t (*state_load)(void *ctx, paku_ota_persist_t *st);
    paku_ota_err_t (*state_save)(void *ctx, const paku_ota_persist_t *st);

    /** Version of the running image (NUL-terminated, at most len-1 chars). */
    paku_ota_err_t (*running_version)(void *ctx, char *buf, size_t len);
    /** Project name of the running image (esp_app_desc_t.project_name); may
     *  be NULL, then an image's project name is not compared. */
    paku_ota_err_t (*running_project)(void *ctx, char *buf, size_t len);
    /** Whether the chip's anti-rollback accepts an image of this
     *  secure_version (esp_efuse_check_secure_version). May be NULL: no
     *  anti-rollback. */
    bool (*secure_version_ok)(void *ctx, uint32_t secure_version);
    /** Whether the running image still waits for confirmation (bootloader
     *  app-rollback state PENDING_VERIFY). */
    paku_ota_err_t (*boot_pending_verify)(void *ctx, bool *pending);
    /** Mark the running image valid (cancels the bootloader rollback). */
    paku_ota_err_t (*mark_valid)(void *ctx);
    /** Mark the running image invalid and boot the previous one. On a device
     *  this does not return on success. */
    paku_ota_err_t (*mark_invalid_and_reboot)(void *ctx);
    /** Reboot into the image set to boot (host: switch versions, return). */
    void (*restart)(void *ctx);

    void (*sleep_ms)(void *ctx, uint32_t ms);
    uint64_t (*now_ms)(void *ctx);
    uint32_t (*random_u32)(void *ctx);
};

#ifdef __cplusplus
}
#endif

#endif /* PAKU_OTA_PORT_H */
