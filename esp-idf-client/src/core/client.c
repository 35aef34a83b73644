/*
 * The client handle: create and destroy, the run loop, and what every step of
 * the flow shares (requests, status reports, pacing, persistent state). The
 * steps themselves are in check.c, download.c, install.c and confirm.c.
 *
 * Invariants a reader can rely on:
 *  - Nothing is made bootable before its SHA-256 matched checksum_sha256 and,
 *    with a signing key configured, its signature verified.
 *  - The download path allocates nothing: bytes go from the port's buffer (or
 *    the handle's one fixed buffer) straight into the hash and the partition.
 *  - The persisted resume offset never exceeds what was written; a resume
 *    re-hashes the bytes on flash up to it, so the final digest always covers
 *    what is actually in the partition.
 *  - `failed` is reported only for definitive failures (refusals, checksum,
 *    signature, flash, changed image), once per offered image; a dropped
 *    connection is retried and later resumed, not reported, so flaky networks
 *    do not halt rollouts.
 *  - One connection per public call: the port keeps it alive from the check
 *    through the download to the last report, and the call closes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

/** Base of the back-off between cycles after failed checks. */
#define FAILURE_BACKOFF_BASE_MS (30u * 1000u)

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

void paku_ota_client_set_reason(paku_ota_result_t *r, const char *text)
{
    (void)snprintf(r->reason, sizeof(r->reason), "%s", text);
}

void paku_ota_client_sleep_ms(paku_ota_handle_t h, uint64_t ms)
{
    while (ms > 0) {
        uint32_t step = ms > 3600000u ? 3600000u : (uint32_t)ms;
        h->port->sleep_ms(h->port->ctx, step);
        ms -= step;
    }
}

void paku_ota_client_backoff(paku_ota_handle_t h, uint32_t attempt)
{
    uint64_t ms = paku_ota_backoff_delay_ms(attempt, h->cfg.retry_base_ms, h->cfg.retry_max_ms,
                                            h->port->random_u32(h->port->ctx));
    PAKU_OTA_LOGI(TAG, "retrying in %u ms", (unsigned)ms);
    paku_ota_client_sleep_ms(h, ms);
}

bool paku_ota_client_retryable_status(int status)
{
    return status == 408 || status >= 500;
}

bool paku_ota_client_wait_retry(paku_ota_handle_t h, uint32_t retry_after_s, uint32_t attempt)
{
    if (retry_after_s > h->cfg.max_inline_retry_after_s) {
        return false;
    }
    if (retry_after_s > 0) {
        paku_ota_client_sleep_ms(h, (uint64_t)retry_after_s * 1000u);
    } else {
        paku_ota_client_backoff(h, attempt);
    }
    return true;
}

uint32_t paku_ota_client_retry_after(const char *value)
{
    uint32_t s = 0;
    return paku_ota_parse_retry_after(value, &s) ? s : 0;
}

paku_ota_err_t paku_ota_client_load_running(paku_ota_handle_t h)
{
    if (h->cfg.running_version != NULL) {
        if (!paku_ota_strcpy_checked(h->running, sizeof(h->running), h->cfg.running_version)) {
            return PAKU_OTA_ERR_INVALID_VERSION;
        }
    } else {
        paku_ota_err_t err = h->port->running_version(h->port->ctx, h->running,
                                                      sizeof(h->running));
        if (err != PAKU_OTA_OK) {
            h->running[0] = '\0';
            return err;
        }
        h->running[sizeof(h->running) - 1] = '\0';
    }
    return paku_ota_version_is_valid(h->running) ? PAKU_OTA_OK : PAKU_OTA_ERR_INVALID_VERSION;
}

void paku_ota_client_load_state(paku_ota_handle_t h)
{
    paku_ota_persist_t *st = &h->st;
    memset(st, 0, sizeof(*st));
    paku_ota_err_t err = h->port->state_load(h->port->ctx, st);
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "could not load OTA state (%s); starting clean",
                      paku_ota_err_to_name(err));
        memset(st, 0, sizeof(*st));
    }
    /* Never trust stored strings to be terminated. */
    st->target_version[sizeof(st->target_version) - 1] = '\0';
    st->expected_sha256[sizeof(st->expected_sha256) - 1] = '\0';
    st->previous_version[sizeof(st->previous_version) - 1] = '\0';
}

void paku_ota_client_save_state(paku_ota_handle_t h)
{
    paku_ota_err_t err = h->port->state_save(h->port->ctx, &h->st);
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "could not save OTA state (%s)", paku_ota_err_to_name(err));
    }
}

void paku_ota_client_clear_download_state(paku_ota_persist_t *st)
{
    st->resume_offset = 0;
    st->image_size = 0;
    st->target_version[0] = '\0';
    st->expected_sha256[0] = '\0';
}

void paku_ota_client_request_init(paku_ota_handle_t h, paku_ota_http_request_t *req,
                                  paku_ota_req_kind_t kind, paku_ota_http_method_t method,
                                  const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->kind = kind;
    req->url = url;
    req->buf = h->buf;
    req->buf_len = h->buf_len;
    req->timeout_ms = h->cfg.http_timeout_ms;
    req->ca_cert_pem = h->cfg.ca_cert_pem;
    req->client_cert_pem = h->cfg.client_cert_pem;
    req->client_key_pem = h->cfg.client_key_pem;
    req->use_cert_bundle = h->cfg.use_cert_bundle;
}

/* ------------------------------------------------------------------------ */
/* Status reports                                                            */
/* ------------------------------------------------------------------------ */

void paku_ota_client_reports_for(paku_ota_handle_t h, const char *version)
{
    paku_ota_reporter_init(&h->rep, paku_ota_client_send_status, h);
    (void)paku_ota_strcpy_checked(h->status_version, sizeof(h->status_version), version);
}

paku_ota_err_t paku_ota_client_send_status(void *user, paku_ota_status_t status, int progress,
                                           const char *reason)
{
    paku_ota_handle_t h = user;
    if (h->cfg.status_cb != NULL) {
        h->cfg.status_cb(status, h->status_version, progress, reason, h->cfg.status_cb_user);
    }
    paku_ota_err_t err = paku_ota_status_json(h->cfg.device_id, h->status_version, status,
                                              progress, reason, h->status_body,
                                              sizeof(h->status_body));
    if (err != PAKU_OTA_OK) {
        return err;
    }
    /* Terminal reports matter to the rollout; progress reports do not. */
    uint32_t attempts = (status == PAKU_OTA_STATUS_DOWNLOADING) ? 1u : 3u;
    for (uint32_t a = 0; a < attempts; a++) {
        paku_ota_http_request_t req;
        paku_ota_client_request_init(h, &req, PAKU_OTA_REQ_STATUS, PAKU_OTA_HTTP_POST,
                                     h->status_url);
        req.content_type = "application/json";
        req.body = h->status_body;
        req.body_len = strlen(h->status_body);
        err = h->port->http(h->port->ctx, &req, &h->resp);
        int http_status = h->resp.status;
        if (err == PAKU_OTA_OK && http_status >= 200 && http_status < 300) {
            PAKU_OTA_LOGI(TAG, "reported %s %d%% for %s", paku_ota_status_name(status), progress,
                          h->status_version);
            return PAKU_OTA_OK;
        }
        PAKU_OTA_LOGW(TAG, "status report %s failed (%s, http %d)", paku_ota_status_name(status),
                      paku_ota_err_to_name(err), http_status);
        if (err == PAKU_OTA_OK) {
            err = PAKU_OTA_ERR_HTTP_STATUS;
        }
        if (a + 1 < attempts) {
            paku_ota_client_backoff(h, a);
        }
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Pacing                                                                    */
/* ------------------------------------------------------------------------ */

uint32_t paku_ota_client_next_after_success(paku_ota_handle_t h)
{
    h->failures = 0;
    return h->offer.has_next_check ? h->offer.next_check_seconds : h->cfg.check_interval_s;
}

uint32_t paku_ota_client_next_after_failure(paku_ota_handle_t h, const paku_ota_result_t *res)
{
    if (res->err == PAKU_OTA_ERR_RATE_LIMITED && res->retry_after_s > 0) {
        uint32_t s = res->retry_after_s;
        return s < PAKU_OTA_NEXT_CHECK_MIN_S   ? PAKU_OTA_NEXT_CHECK_MIN_S
               : s > PAKU_OTA_NEXT_CHECK_MAX_S ? PAKU_OTA_NEXT_CHECK_MAX_S
                                               : s;
    }
    uint32_t attempt = h->failures;
    if (h->failures < UINT32_MAX) {
        h->failures++;
    }
    uint64_t ms = paku_ota_backoff_delay_ms(attempt, FAILURE_BACKOFF_BASE_MS,
                                            (uint64_t)h->cfg.check_interval_s * 1000u,
                                            h->port->random_u32(h->port->ctx));
    uint64_t s = ms / 1000u;
    return s < PAKU_OTA_NEXT_CHECK_MIN_S ? PAKU_OTA_NEXT_CHECK_MIN_S : (uint32_t)s;
}

/* ------------------------------------------------------------------------ */
/* Create, destroy, run                                                      */
/* ------------------------------------------------------------------------ */

static bool printable_token(const char *s, size_t max)
{
    size_t n = paku_ota_strnlen(s, max + 1);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F) {
            return false;
        }
    }
    return true;
}

static bool port_complete(const paku_ota_port_t *p)
{
    return p != NULL && p->http != NULL && p->part_begin != NULL && p->part_resume != NULL &&
           p->part_write != NULL && p->part_read != NULL && p->part_finish != NULL &&
           p->part_abort != NULL && p->part_set_boot != NULL && p->state_load != NULL &&
           p->state_save != NULL && p->running_version != NULL &&
           p->boot_pending_verify != NULL && p->mark_valid != NULL &&
           p->mark_invalid_and_reboot != NULL && p->restart != NULL && p->sleep_ms != NULL &&
           p->now_ms != NULL && p->random_u32 != NULL;
}

static paku_ota_err_t config_error(const char *what)
{
    PAKU_OTA_LOGE(TAG, "invalid configuration: %s", what);
    return PAKU_OTA_ERR_CONFIG;
}

/* How the server is reached and authenticated: decided here, once, so a
 * device never finds out in the field that every request fails. */
static paku_ota_err_t check_transport(const paku_ota_config_t *cfg, const paku_ota_port_t *port)
{
    bool https = strncmp(cfg->server_url, "https://", 8) == 0;
    if (!https && strncmp(cfg->server_url, "http://", 7) != 0) {
        return config_error("server_url must be https://host[:port] (or http:// with "
                            "allow_plain_http)");
    }
    if (!https && !cfg->allow_plain_http) {
        return config_error("server_url is plain http://: no server authentication and no "
                            "device identity; use https:// or set allow_plain_http "
                            "(CONFIG_PAKU_OTA_ALLOW_PLAIN_HTTP)");
    }
    if (cfg->use_cert_bundle && (port->flags & PAKU_OTA_PORT_HAS_CERT_BUNDLE) == 0) {
        return config_error("use_cert_bundle needs the certificate bundle "
                            "(CONFIG_MBEDTLS_CERTIFICATE_BUNDLE)");
    }
    bool has_ca = cfg->ca_cert_pem != NULL && cfg->ca_cert_pem[0] != '\0';
    if (https && (port->flags & PAKU_OTA_PORT_TLS_FROM_CONFIG) != 0 && !has_ca &&
        !cfg->use_cert_bundle) {
        return config_error("an https:// server needs ca_cert_pem (the fleet CA, "
                            "CONFIG_PAKU_OTA_FLEET_CA_PEM_FILE) or use_cert_bundle");
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t check_config(const paku_ota_config_t *cfg, const paku_ota_port_t *port)
{
    if (cfg->server_url == NULL || !printable_token(cfg->server_url, PAKU_OTA_SERVER_URL_MAX_LEN)) {
        return config_error("server_url must be https://host[:port] (max 256 chars)");
    }
    paku_ota_err_t err = check_transport(cfg, port);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (!printable_token(cfg->device_id, PAKU_OTA_ID_MAX_LEN)) {
        return config_error("device_id must be 1..64 printable characters");
    }
    if (!printable_token(cfg->device_model, PAKU_OTA_ID_MAX_LEN)) {
        return config_error("device_model must be 1..64 printable characters");
    }
    if (cfg->running_version != NULL && !paku_ota_version_is_valid(cfg->running_version)) {
        return config_error("running_version is not SemVer");
    }
    if (cfg->buffer_size < 512 || cfg->buffer_size > 64 * 1024) {
        return config_error("buffer_size must be 512..65536");
    }
    if (cfg->max_response_size < 1024 || cfg->max_response_size > 1024 * 1024) {
        return config_error("max_response_size must be 1024..1048576");
    }
    if (cfg->max_attempts < 1 || cfg->max_attempts > 100 || cfg->confirm_attempts < 1 ||
        cfg->confirm_attempts > 100) {
        return config_error("max_attempts and confirm_attempts must be 1..100");
    }
    if (cfg->check_interval_s < PAKU_OTA_NEXT_CHECK_MIN_S) {
        return config_error("check_interval_s must be at least 10");
    }
    if (cfg->range_request_size != 0 && cfg->range_request_size < 4096) {
        return config_error("range_request_size must be 0 or at least 4096");
    }
    return PAKU_OTA_OK;
}

static void build_urls(paku_ota_handle_t h)
{
    (void)paku_ota_strcpy_checked(h->server_url, sizeof(h->server_url), h->cfg.server_url);
    size_t n = strlen(h->server_url);
    while (n > 0 && h->server_url[n - 1] == '/') {
        h->server_url[--n] = '\0';
    }
    /* The device id is at most 64 characters (checked), 192 encoded. */
    int k = snprintf(h->status_url, sizeof(h->status_url), "%s/api/device/", h->server_url);
    size_t used = k > 0 ? (size_t)k : 0;
    (void)paku_ota_url_encode(h->cfg.device_id, h->status_url + used,
                              sizeof(h->status_url) - used);
    used = strlen(h->status_url);
    (void)snprintf(h->status_url + used, sizeof(h->status_url) - used, "/update-status");
}

paku_ota_err_t paku_ota_create(const paku_ota_config_t *cfg, const paku_ota_port_t *port,
                               paku_ota_handle_t *out)
{
    if (cfg == NULL || out == NULL || !port_complete(port)) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    paku_ota_err_t err = check_config(cfg, port);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    paku_ota_handle_t h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return PAKU_OTA_ERR_NO_MEM;
    }
    h->cfg = *cfg;
    h->port = port;
    if (h->cfg.state_save_interval < h->cfg.buffer_size) {
        h->cfg.state_save_interval = h->cfg.buffer_size;
    }
    build_urls(h);
    h->buf_len = cfg->buffer_size;
    h->buf = malloc(h->buf_len);
    h->sha = paku_ota_sha256_new();
    if (h->buf == NULL || h->sha == NULL) {
        err = PAKU_OTA_ERR_NO_MEM;
    } else if (cfg->signing_pubkey_pem != NULL && cfg->signing_pubkey_pem[0] != '\0') {
        err = paku_ota_sigkey_load(cfg->signing_pubkey_pem, &h->sigkey);
        if (err != PAKU_OTA_OK && err != PAKU_OTA_ERR_NO_MEM) {
            err = config_error("signing_pubkey_pem is not an RSA-2048+ or EC P-256 public key");
        }
    }
    if (err != PAKU_OTA_OK) {
        paku_ota_destroy(h);
        return err;
    }
    if (h->sigkey == NULL) {
        PAKU_OTA_LOGW(TAG, "no signing key configured: firmware signatures are not checked");
    }
    *out = h;
    return PAKU_OTA_OK;
}

void paku_ota_destroy(paku_ota_handle_t h)
{
    if (h == NULL) {
        return;
    }
    if (h->port->http_close != NULL) {
        h->port->http_close(h->port->ctx);
    }
    paku_ota_sigkey_free(h->sigkey);
    paku_ota_sha256_free(h->sha);
    free(h->buf);
    free(h);
}

paku_ota_err_t paku_ota_confirm_boot(paku_ota_handle_t h, paku_ota_result_t *result)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_result_t *res = result != NULL ? result : &h->scratch;
    memset(res, 0, sizeof(*res));
    paku_ota_err_t err = paku_ota_client_confirm(h, res);
    if (h->port->http_close != NULL) {
        h->port->http_close(h->port->ctx);
    }
    return err;
}

void paku_ota_restart(paku_ota_handle_t h)
{
    if (h != NULL) {
        h->port->restart(h->port->ctx);
    }
}

paku_ota_err_t paku_ota_run(paku_ota_handle_t h, uint32_t max_cycles)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_result_t *res = &h->scratch;
    (void)paku_ota_confirm_boot(h, res);
    paku_ota_err_t err = PAKU_OTA_OK;
    for (uint32_t cycle = 1;; cycle++) {
        err = paku_ota_check_and_update(h, res);
        uint32_t next = res->next_check_s;
        if (res->outcome == PAKU_OTA_OUTCOME_UPDATED) {
            paku_ota_restart(h); /* does not return on a device */
            (void)paku_ota_confirm_boot(h, res);
            if (res->next_check_s > 0) {
                next = res->next_check_s;
            }
        }
        if (max_cycles != 0 && cycle >= max_cycles) {
            return err;
        }
        PAKU_OTA_LOGI(TAG, "next check in %u s", (unsigned)next);
        paku_ota_client_sleep_ms(h, (uint64_t)next * 1000u);
    }
}
