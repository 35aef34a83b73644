/*
 * The client handle and the pieces of the update flow, shared by the files
 * that implement it along the flow:
 *
 *   client.c   create / destroy / run, requests, status reports, pacing
 *   check.c    GET /api/firmware/check and paku_ota_check_and_update
 *   download.c streaming into the slot with Range resume, the image's own
 *              description read from its first bytes
 *   install.c  vetting an offer, verification, setting the boot slot,
 *              remembering refusals
 *   confirm.c  the first boot after an update: check in, mark valid or roll back
 *
 * Stack discipline: everything larger than a few dozen bytes that a call
 * needs (the offer, the persistent state, response headers, URLs, the status
 * body, the image's description) lives in the handle, allocated once at
 * create. A device task's stack then only carries small frames; the stack
 * budget check (test/idf-compile-check) enforces it.
 */
#ifndef PAKU_OTA_CLIENT_INTERNAL_H
#define PAKU_OTA_CLIENT_INTERNAL_H

#include "paku_ota_internal.h"
#include "paku_ota_port.h"

#define PAKU_OTA_CHECK_URL_MAX 1280
#define PAKU_OTA_STATUS_URL_MAX 640
#define PAKU_OTA_DOWNLOAD_URL_MAX (PAKU_OTA_SERVER_URL_MAX_LEN + PAKU_OTA_DOWNLOAD_URL_MAX_LEN + 1)
#define PAKU_OTA_STATUS_BODY_MAX 1400

struct paku_ota_client {
    paku_ota_config_t cfg;
    const paku_ota_port_t *port;
    char server_url[PAKU_OTA_SERVER_URL_MAX_LEN + 1];
    paku_ota_sigkey_t *sigkey;
    paku_ota_sha256_t *sha;
    uint8_t *buf;
    size_t buf_len;
    uint32_t failures; /* consecutive failed cycles */
    char running[PAKU_OTA_VERSION_MAX_LEN + 1];
    /* Version the status reports are about. */
    char status_version[PAKU_OTA_VERSION_MAX_LEN + 1];

    /* The last offer refused for good (by the rules, by verification or by
     * the platform), by its SHA-256: the same bytes are neither fetched nor
     * reported again. */
    char refused_sha[PAKU_OTA_SHA256_HEX_LEN + 1];
    char refused_reason[PAKU_OTA_REASON_MAX_LEN];
    paku_ota_err_t refused_err;

    /* Working state of one call (see the note on stack discipline above). */
    paku_ota_check_response_t offer;
    paku_ota_persist_t st;
    paku_ota_http_response_t resp;
    paku_ota_result_t scratch; /* the result when a caller passes none */
    paku_ota_reporter_t rep;
    uint8_t head[PAKU_OTA_APP_DESC_HEAD]; /* the image's first bytes */
    paku_ota_app_desc_t desc;
    char check_url[PAKU_OTA_CHECK_URL_MAX];
    char status_url[PAKU_OTA_STATUS_URL_MAX];
    char download_url[PAKU_OTA_DOWNLOAD_URL_MAX];
    /* The signed link the service redirected the download to ("" = none):
     * used until it fails, then the service is asked again. */
    char offload_url[PAKU_OTA_LOCATION_MAX];
    char status_body[PAKU_OTA_STATUS_BODY_MAX];
};

/* ---- client.c ------------------------------------------------------------- */

void paku_ota_client_set_reason(paku_ota_result_t *r, const char *text);
void paku_ota_client_sleep_ms(paku_ota_handle_t h, uint64_t ms);
void paku_ota_client_backoff(paku_ota_handle_t h, uint32_t attempt);
/** 408 and 5xx: worth asking again within the call. */
bool paku_ota_client_retryable_status(int status);
/** Wait out a Retry-After within the call when it is short enough, else back
 *  off; false when it is too long to wait (the call should end). */
bool paku_ota_client_wait_retry(paku_ota_handle_t h, uint32_t retry_after_s, uint32_t attempt);
/** The running version into h->running (config, else the port); must be SemVer. */
paku_ota_err_t paku_ota_client_load_running(paku_ota_handle_t h);
/** h->st from the port (all zero when it cannot be loaded). */
void paku_ota_client_load_state(paku_ota_handle_t h);
void paku_ota_client_save_state(paku_ota_handle_t h);
void paku_ota_client_clear_download_state(paku_ota_persist_t *st);
/** A request with the handle's timeout, TLS material and buffer. */
void paku_ota_client_request_init(paku_ota_handle_t h, paku_ota_http_request_t *req,
                                  paku_ota_req_kind_t kind, paku_ota_http_method_t method,
                                  const char *url);
/** Start reports about version (status_version) with a fresh reporter h->rep. */
void paku_ota_client_reports_for(paku_ota_handle_t h, const char *version);
/** The reporter's send function (POST update-status, retried when terminal). */
paku_ota_err_t paku_ota_client_send_status(void *user, paku_ota_status_t status, int progress,
                                           const char *reason);
uint32_t paku_ota_client_next_after_success(paku_ota_handle_t h);
uint32_t paku_ota_client_next_after_failure(paku_ota_handle_t h, const paku_ota_result_t *res);
/** Parse a Retry-After header value; 0 when absent or not delta-seconds. */
uint32_t paku_ota_client_retry_after(const char *value);

/* ---- check.c -------------------------------------------------------------- */

/** GET /api/firmware/check with current_version = version into h->offer,
 *  with in-call retries of transient failures. res gets http_status,
 *  retry_after_s and a reason on failure. */
paku_ota_err_t paku_ota_client_check(paku_ota_handle_t h, const char *version,
                                     paku_ota_result_t *res, uint32_t attempts);

/* ---- download.c ----------------------------------------------------------- */

/** Stream h->offer's image into the slot, resuming the saved partial image
 *  in h->st when it belongs to the same bytes; reports progress between
 *  requests. The digest is left in h->sha. */
paku_ota_err_t paku_ota_client_download(paku_ota_handle_t h, paku_ota_result_t *res);

/* ---- install.c ------------------------------------------------------------ */

/** Vet, download, verify and set to boot h->offer. */
paku_ota_err_t paku_ota_client_install(paku_ota_handle_t h, paku_ota_result_t *res);
/** Whether err is a definitive refusal of the offered bytes. */
bool paku_ota_client_is_refusal(paku_ota_err_t err);

/* ---- confirm.c ------------------------------------------------------------ */

/** Settle a pending confirmation (see paku_ota_confirm_boot). */
paku_ota_err_t paku_ota_client_confirm(paku_ota_handle_t h, paku_ota_result_t *res);

#endif /* PAKU_OTA_CLIENT_INTERNAL_H */
