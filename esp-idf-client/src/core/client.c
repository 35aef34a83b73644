/*
 * The update flow: check → decide → download (with resume) → verify →
 * install → report, and the confirmation after the reboot.
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
 *    signature, flash, changed image); a dropped connection is retried and
 *    later resumed, not reported, so flaky networks do not halt rollouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "paku_ota_port.h"

static const char *TAG = "paku_ota";

#define CHECK_URL_MAX 1280
#define STATUS_URL_MAX 640
#define DOWNLOAD_URL_MAX (PAKU_OTA_SERVER_URL_MAX_LEN + PAKU_OTA_DOWNLOAD_URL_MAX_LEN + 1)
#define STATUS_BODY_MAX 1400
/** Base of the back-off between cycles after failed checks. */
#define FAILURE_BACKOFF_BASE_MS (30u * 1000u)

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
    /* Last offer refused after download (checksum/signature), so the same
     * bytes are not fetched again every cycle. */
    char refused_sha[PAKU_OTA_SHA256_HEX_LEN + 1];
    char refused_reason[PAKU_OTA_REASON_MAX_LEN];
    paku_ota_err_t refused_err;
    char check_url[CHECK_URL_MAX];
    char status_url[STATUS_URL_MAX];
    char download_url[DOWNLOAD_URL_MAX];
    char status_body[STATUS_BODY_MAX];
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void result_reset(paku_ota_result_t *r)
{
    memset(r, 0, sizeof(*r));
}

static void set_reason(paku_ota_result_t *r, const char *text)
{
    (void)snprintf(r->reason, sizeof(r->reason), "%s", text);
}

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

static void sleep_ms(paku_ota_handle_t h, uint64_t ms)
{
    while (ms > 0) {
        uint32_t step = ms > 3600000u ? 3600000u : (uint32_t)ms;
        h->port->sleep_ms(h->port->ctx, step);
        ms -= step;
    }
}

static void backoff_sleep(paku_ota_handle_t h, uint32_t attempt)
{
    uint64_t ms = paku_ota_backoff_delay_ms(attempt, h->cfg.retry_base_ms, h->cfg.retry_max_ms,
                                            h->port->random_u32(h->port->ctx));
    PAKU_OTA_LOGI(TAG, "retrying in %u ms", (unsigned)ms);
    sleep_ms(h, ms);
}

static bool retryable_status(int status)
{
    return status == 408 || status >= 500;
}

static paku_ota_err_t load_running(paku_ota_handle_t h)
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

static paku_ota_err_t load_state(paku_ota_handle_t h, paku_ota_persist_t *st)
{
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
    return err;
}

static void save_state(paku_ota_handle_t h, const paku_ota_persist_t *st)
{
    paku_ota_err_t err = h->port->state_save(h->port->ctx, st);
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "could not save OTA state (%s)", paku_ota_err_to_name(err));
    }
}

static void clear_download_state(paku_ota_persist_t *st)
{
    st->resume_offset = 0;
    st->image_size = 0;
    st->target_version[0] = '\0';
    st->expected_sha256[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Status reports                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    paku_ota_handle_t h;
    int status;
} discard_ctx_t;

static int discard_headers(void *user, const paku_ota_http_response_t *resp)
{
    ((discard_ctx_t *)user)->status = resp->status;
    return 0;
}

static paku_ota_err_t send_status(void *user, paku_ota_status_t status, int progress,
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
        discard_ctx_t dc = {h, 0};
        paku_ota_http_request_t req;
        memset(&req, 0, sizeof(req));
        req.method = PAKU_OTA_HTTP_POST;
        req.kind = PAKU_OTA_REQ_STATUS;
        req.url = h->status_url;
        req.content_type = "application/json";
        req.body = h->status_body;
        req.body_len = strlen(h->status_body);
        req.timeout_ms = h->cfg.http_timeout_ms;
        req.ca_cert_pem = h->cfg.ca_cert_pem;
        req.client_cert_pem = h->cfg.client_cert_pem;
        req.client_key_pem = h->cfg.client_key_pem;
        req.on_headers = discard_headers;
        req.user = &dc;
        paku_ota_http_response_t resp;
        memset(&resp, 0, sizeof(resp));
        err = h->port->http(h->port->ctx, &req, &resp);
        if (err == PAKU_OTA_OK && resp.status >= 200 && resp.status < 300) {
            PAKU_OTA_LOGI(TAG, "reported %s %d%% for %s", paku_ota_status_name(status), progress,
                          h->status_version);
            return PAKU_OTA_OK;
        }
        PAKU_OTA_LOGW(TAG, "status report %s failed (%s, http %d)", paku_ota_status_name(status),
                      paku_ota_err_to_name(err), resp.status);
        if (err == PAKU_OTA_OK) {
            err = PAKU_OTA_ERR_HTTP_STATUS;
        }
        if (a + 1 < attempts) {
            backoff_sleep(h, a);
        }
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Check                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *body;
    size_t len;
    size_t cap;
    paku_ota_http_response_t resp;
    bool too_large;
} check_ctx_t;

static int check_headers(void *user, const paku_ota_http_response_t *resp)
{
    ((check_ctx_t *)user)->resp = *resp;
    return 0;
}

static int check_body(void *user, const uint8_t *data, size_t len)
{
    check_ctx_t *c = user;
    if (len > c->cap - c->len) {
        c->too_large = true;
        return PAKU_OTA_ERR_RESPONSE_TOO_LARGE;
    }
    memcpy(c->body + c->len, data, len);
    c->len += len;
    return 0;
}

static paku_ota_err_t build_check_url(paku_ota_handle_t h, const char *version)
{
    char id[PAKU_OTA_ID_MAX_LEN * 3 + 1];
    char model[PAKU_OTA_ID_MAX_LEN * 3 + 1];
    char ver[PAKU_OTA_VERSION_MAX_LEN * 3 + 1];
    if (!paku_ota_url_encode(h->cfg.device_id, id, sizeof(id)) ||
        !paku_ota_url_encode(h->cfg.device_model, model, sizeof(model)) ||
        !paku_ota_url_encode(version, ver, sizeof(ver))) {
        return PAKU_OTA_ERR_BUFFER_TOO_SMALL;
    }
    int n = snprintf(h->check_url, sizeof(h->check_url),
                     "%s/api/firmware/check?device_id=%s&device_model=%s&current_version=%s",
                     h->server_url, id, model, ver);
    return (n > 0 && (size_t)n < sizeof(h->check_url)) ? PAKU_OTA_OK
                                                        : PAKU_OTA_ERR_BUFFER_TOO_SMALL;
}

/* One GET /api/firmware/check. Fills out on success; the result gets the
 * HTTP status, Retry-After and a reason on failure. */
static paku_ota_err_t check_once(paku_ota_handle_t h, const char *version,
                                 paku_ota_check_response_t *out, paku_ota_result_t *res)
{
    paku_ota_err_t err = build_check_url(h, version);
    if (err != PAKU_OTA_OK) {
        set_reason(res, "check URL too long");
        return err;
    }
    check_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.cap = h->cfg.max_response_size;
    c.body = malloc(c.cap);
    if (c.body == NULL) {
        set_reason(res, "out of memory for the check response");
        return PAKU_OTA_ERR_NO_MEM;
    }
    paku_ota_http_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = PAKU_OTA_HTTP_GET;
    req.kind = PAKU_OTA_REQ_CHECK;
    req.url = h->check_url;
    req.buf = h->buf;
    req.buf_len = h->buf_len;
    req.timeout_ms = h->cfg.http_timeout_ms;
    req.ca_cert_pem = h->cfg.ca_cert_pem;
    req.client_cert_pem = h->cfg.client_cert_pem;
    req.client_key_pem = h->cfg.client_key_pem;
    req.on_headers = check_headers;
    req.on_body = check_body;
    req.user = &c;
    paku_ota_http_response_t resp;
    memset(&resp, 0, sizeof(resp));
    err = h->port->http(h->port->ctx, &req, &resp);
    if (err == PAKU_OTA_ERR_ABORTED && c.too_large) {
        err = PAKU_OTA_ERR_RESPONSE_TOO_LARGE;
    }
    res->http_status = c.resp.status;
    if (err == PAKU_OTA_ERR_RESPONSE_TOO_LARGE) {
        set_reason(res, "check response larger than the limit");
    } else if (err != PAKU_OTA_OK) {
        err = PAKU_OTA_ERR_HTTP_TRANSPORT;
        set_reason(res, "cannot reach the server");
    } else if (c.resp.status == 429 || c.resp.status == 503) {
        uint32_t ra = 0;
        if (!paku_ota_parse_retry_after(c.resp.retry_after, &ra)) {
            ra = 0;
        }
        res->retry_after_s = ra;
        (void)snprintf(res->reason, sizeof(res->reason), "server busy (http %d, retry after %u s)",
                       c.resp.status, (unsigned)ra);
        err = PAKU_OTA_ERR_RATE_LIMITED;
    } else if (c.resp.status != 200) {
        (void)snprintf(res->reason, sizeof(res->reason), "check answered http %d",
                       c.resp.status);
        err = PAKU_OTA_ERR_HTTP_STATUS;
    } else {
        const char *detail = NULL;
        err = paku_ota_parse_check_response(c.body, c.len, out, &detail);
        if (err != PAKU_OTA_OK) {
            (void)snprintf(res->reason, sizeof(res->reason), "invalid check response: %s (%s)",
                           detail != NULL ? detail : "?", paku_ota_err_to_name(err));
        }
    }
    free(c.body);
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "check failed: %s", res->reason);
    }
    return err;
}

/* check_once with in-call retries for transient failures. */
static paku_ota_err_t check_with_retries(paku_ota_handle_t h, const char *version,
                                         paku_ota_check_response_t *out, paku_ota_result_t *res,
                                         uint32_t attempts)
{
    paku_ota_err_t err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    for (uint32_t a = 0; a < attempts; a++) {
        res->retry_after_s = 0;
        res->http_status = 0;
        err = check_once(h, version, out, res);
        if (err == PAKU_OTA_OK) {
            return err;
        }
        bool last = a + 1 >= attempts;
        if (err == PAKU_OTA_ERR_RATE_LIMITED) {
            if (last || res->retry_after_s > h->cfg.max_inline_retry_after_s) {
                return err;
            }
            if (res->retry_after_s > 0) {
                sleep_ms(h, (uint64_t)res->retry_after_s * 1000u);
            } else {
                backoff_sleep(h, a);
            }
            continue;
        }
        bool transient = err == PAKU_OTA_ERR_HTTP_TRANSPORT ||
                         (err == PAKU_OTA_ERR_HTTP_STATUS && retryable_status(res->http_status));
        if (!transient || last) {
            return err;
        }
        backoff_sleep(h, a);
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Download                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    paku_ota_handle_t h;
    const paku_ota_check_response_t *offer;
    paku_ota_persist_t *st;
    paku_ota_reporter_t *rep;
    paku_ota_result_t *res;
    uint64_t offset;       /* bytes written and hashed */
    uint64_t body_end;     /* exclusive end this response may fill */
    uint64_t since_save;
    bool range_requested;
    bool headers_seen;
    bool must_restart;     /* the partial image is unusable: begin at 0 */
    paku_ota_err_t abort_err;
} dl_ctx_t;

static paku_ota_err_t begin_image(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    h->port->part_abort(h->port->ctx);
    d->offset = 0;
    d->since_save = 0;
    d->st->resume_offset = 0;
    save_state(h, d->st);
    paku_ota_err_t err = h->port->part_begin(h->port->ctx, d->offer->size_bytes);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    return paku_ota_sha256_start(h->sha);
}

/* Continue the partial image at *offset (port may lower it): re-hash what is
 * on flash, since the hash state of the interrupted attempt is not kept. */
static paku_ota_err_t resume_image(dl_ctx_t *d, uint64_t wanted)
{
    paku_ota_handle_t h = d->h;
    uint64_t off = wanted;
    paku_ota_err_t err = h->port->part_resume(h->port->ctx, d->offer->size_bytes, &off);
    if (err != PAKU_OTA_OK || off > wanted) {
        return err != PAKU_OTA_OK ? err : PAKU_OTA_ERR_PARTITION;
    }
    err = paku_ota_sha256_start(h->sha);
    for (uint64_t pos = 0; err == PAKU_OTA_OK && pos < off;) {
        size_t n = (off - pos) < h->buf_len ? (size_t)(off - pos) : h->buf_len;
        err = h->port->part_read(h->port->ctx, pos, h->buf, n);
        if (err == PAKU_OTA_OK) {
            err = paku_ota_sha256_update(h->sha, h->buf, n);
        }
        pos += n;
    }
    if (err != PAKU_OTA_OK) {
        return err;
    }
    d->offset = off;
    d->since_save = 0;
    d->st->resume_offset = off;
    if (off > 0) {
        d->res->resumed_at = off;
        PAKU_OTA_LOGI(TAG, "resuming %s at byte %llu of %llu", d->offer->latest_version,
                      (unsigned long long)off, (unsigned long long)d->offer->size_bytes);
    }
    return PAKU_OTA_OK;
}

static int dl_abort(dl_ctx_t *d, paku_ota_err_t err, const char *why)
{
    d->abort_err = err;
    if (why != NULL) {
        (void)snprintf(d->res->reason, sizeof(d->res->reason), "%s", why);
    }
    return err;
}

static bool identity_matches(const char *header, const char *expected)
{
    char v[PAKU_OTA_HEADER_VALUE_MAX];
    if (!paku_ota_etag_value(header, v, sizeof(v))) {
        return false;
    }
    return strcmp(v, expected) == 0;
}

static int dl_headers(void *user, const paku_ota_http_response_t *resp)
{
    dl_ctx_t *d = user;
    paku_ota_handle_t h = d->h;
    const paku_ota_check_response_t *o = d->offer;
    d->headers_seen = true;
    d->res->http_status = resp->status;

    if (resp->status == 429 || resp->status == 503) {
        uint32_t ra = 0;
        if (!paku_ota_parse_retry_after(resp->retry_after, &ra)) {
            ra = 0;
        }
        d->res->retry_after_s = ra;
        return dl_abort(d, PAKU_OTA_ERR_RATE_LIMITED, "server busy during download");
    }
    if (resp->status == 416) {
        d->must_restart = true;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "server refused the resume range");
    }
    if (resp->status != 200 && resp->status != 206) {
        char why[64];
        (void)snprintf(why, sizeof(why), "download answered http %d", resp->status);
        return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS, why);
    }
    /* The bytes must be the ones the check announced (and, on resume, the
     * ones the saved partial image belongs to). */
    if (resp->checksum_sha256[0] != '\0' &&
        !identity_matches(resp->checksum_sha256, o->checksum_sha256)) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "X-Checksum-SHA256 differs from the check's checksum_sha256");
    }
    if (resp->etag[0] != '\0') {
        char tag[PAKU_OTA_HEADER_VALUE_MAX];
        if (paku_ota_etag_value(resp->etag, tag, sizeof(tag)) && paku_ota_is_sha256_hex(tag) &&
            strcmp(tag, o->checksum_sha256) != 0) {
            return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                            "ETag differs from the check's checksum_sha256");
        }
    }

    if (resp->status == 200) {
        if (resp->has_content_length && resp->content_length != o->size_bytes) {
            return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                            "Content-Length differs from size_bytes");
        }
        if (d->offset > 0) {
            /* Asked for a range, got the whole image: start over from 0. */
            PAKU_OTA_LOGW(TAG, "server ignored the range; restarting the download from 0");
            paku_ota_err_t err = begin_image(d);
            if (err != PAKU_OTA_OK) {
                return dl_abort(d, err, "cannot restart the image in the partition");
            }
        }
        d->body_end = o->size_bytes;
        return 0;
    }

    /* 206 */
    uint64_t start;
    uint64_t end;
    uint64_t total;
    if (!d->range_requested ||
        !paku_ota_parse_content_range(resp->content_range, &start, &end, &total) ||
        start != d->offset || total != o->size_bytes) {
        d->must_restart = true;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "Content-Range does not match the requested range");
    }
    if (resp->has_content_length && resp->content_length != end - start + 1) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "Content-Length differs from Content-Range");
    }
    (void)h;
    d->body_end = end + 1;
    return 0;
}

static int dl_body(void *user, const uint8_t *data, size_t len)
{
    dl_ctx_t *d = user;
    paku_ota_handle_t h = d->h;
    if (!d->headers_seen) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "body before headers");
    }
    if (len > d->body_end - d->offset) {
        d->must_restart = false;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "server sent more bytes than announced");
    }
    paku_ota_err_t err = h->port->part_write(h->port->ctx, d->offset, data, len);
    if (err != PAKU_OTA_OK) {
        return dl_abort(d, PAKU_OTA_ERR_PARTITION, "writing the partition failed");
    }
    err = paku_ota_sha256_update(h->sha, data, len);
    if (err != PAKU_OTA_OK) {
        return dl_abort(d, err, "hashing failed");
    }
    d->offset += len;
    d->since_save += len;
    if (d->since_save >= h->cfg.state_save_interval) {
        d->st->resume_offset = d->offset;
        save_state(h, d->st);
        d->since_save = 0;
    }
    paku_ota_reporter_progress(d->rep, d->offset, d->offer->size_bytes);
    return 0;
}

/* Fetches [offset, size) into the partition, resuming after drops.
 * On return d->offset == size on success. */
static paku_ota_err_t fetch_image(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    const paku_ota_check_response_t *o = d->offer;
    uint32_t failed_attempts = 0;
    paku_ota_err_t err = PAKU_OTA_OK;

    int n = snprintf(h->download_url, sizeof(h->download_url), "%s%s", h->server_url,
                     o->download_url);
    if (n < 0 || (size_t)n >= sizeof(h->download_url)) {
        set_reason(d->res, "download URL too long");
        return PAKU_OTA_ERR_BAD_URL;
    }

    paku_ota_reporter_progress(d->rep, d->offset, o->size_bytes);
    while (d->offset < o->size_bytes) {
        paku_ota_http_request_t req;
        memset(&req, 0, sizeof(req));
        req.method = PAKU_OTA_HTTP_GET;
        req.kind = PAKU_OTA_REQ_DOWNLOAD;
        req.url = h->download_url;
        req.buf = h->buf;
        req.buf_len = h->buf_len;
        req.timeout_ms = h->cfg.http_timeout_ms;
        req.ca_cert_pem = h->cfg.ca_cert_pem;
        req.client_cert_pem = h->cfg.client_cert_pem;
        req.client_key_pem = h->cfg.client_key_pem;
        req.on_headers = dl_headers;
        req.on_body = dl_body;
        req.user = d;
        d->range_requested = d->offset > 0 || h->cfg.range_request_size > 0;
        if (d->range_requested) {
            req.has_range = true;
            req.range_start = d->offset;
            req.range_end = UINT64_MAX;
            if (h->cfg.range_request_size > 0 &&
                o->size_bytes - d->offset > h->cfg.range_request_size) {
                req.range_end = d->offset + h->cfg.range_request_size - 1;
            }
        }
        d->headers_seen = false;
        d->must_restart = false;
        d->abort_err = PAKU_OTA_OK;
        d->body_end = o->size_bytes;
        d->res->http_status = 0;
        d->res->retry_after_s = 0;
        uint64_t before = d->offset;

        paku_ota_http_response_t resp;
        memset(&resp, 0, sizeof(resp));
        err = h->port->http(h->port->ctx, &req, &resp);
        if (err == PAKU_OTA_ERR_ABORTED) {
            err = d->abort_err != PAKU_OTA_OK ? d->abort_err : PAKU_OTA_ERR_HTTP_TRANSPORT;
        } else if (err == PAKU_OTA_OK && !d->headers_seen) {
            err = PAKU_OTA_ERR_HTTP_TRANSPORT; /* a port that never delivered headers */
        } else if (err == PAKU_OTA_OK && d->offset < d->body_end) {
            err = PAKU_OTA_ERR_HTTP_TRANSPORT; /* body ended early */
        } else if (err != PAKU_OTA_OK) {
            err = PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        if (err == PAKU_OTA_ERR_HTTP_TRANSPORT && d->abort_err == PAKU_OTA_OK) {
            (void)snprintf(d->res->reason, sizeof(d->res->reason),
                           "connection dropped at byte %llu", (unsigned long long)d->offset);
        }
        if (err == PAKU_OTA_OK) {
            if (d->offset > before) {
                failed_attempts = 0;
            }
            continue; /* next range, or done */
        }

        PAKU_OTA_LOGW(TAG, "download attempt failed: %s (%s)", d->res->reason,
                      paku_ota_err_to_name(err));
        /* Keep what was written for a resume, in this call or after a reboot. */
        d->st->resume_offset = d->offset;
        save_state(h, d->st);

        bool transient = err == PAKU_OTA_ERR_HTTP_TRANSPORT || err == PAKU_OTA_ERR_RATE_LIMITED ||
                         (err == PAKU_OTA_ERR_HTTP_STATUS && retryable_status(d->res->http_status)) ||
                         (err == PAKU_OTA_ERR_RESPONSE_MISMATCH && d->must_restart);
        if (!transient) {
            return err;
        }
        if (d->offset > before) {
            failed_attempts = 0; /* progress was made; only stalls count */
        }
        if (++failed_attempts >= h->cfg.max_attempts) {
            return err;
        }
        if (err == PAKU_OTA_ERR_RATE_LIMITED) {
            if (d->res->retry_after_s > h->cfg.max_inline_retry_after_s) {
                return err;
            }
            if (d->res->retry_after_s > 0) {
                sleep_ms(h, (uint64_t)d->res->retry_after_s * 1000u);
            } else {
                backoff_sleep(h, failed_attempts - 1);
            }
        } else {
            backoff_sleep(h, failed_attempts - 1);
        }

        paku_ota_err_t perr;
        if (d->must_restart || d->offset == 0) {
            perr = begin_image(d);
        } else {
            perr = resume_image(d, d->offset);
            if (perr != PAKU_OTA_OK) {
                PAKU_OTA_LOGW(TAG, "cannot resume (%s); starting over", paku_ota_err_to_name(perr));
                perr = begin_image(d);
            }
        }
        if (perr != PAKU_OTA_OK) {
            set_reason(d->res, "cannot prepare the partition");
            return perr == PAKU_OTA_ERR_IMAGE_TOO_LARGE ? perr : PAKU_OTA_ERR_PARTITION;
        }
    }
    return PAKU_OTA_OK;
}

/* Refuse (before any byte is fetched) what can never be installed. */
static paku_ota_err_t vet_offer(paku_ota_handle_t h, const paku_ota_check_response_t *o,
                                paku_ota_result_t *res)
{
    int cmp = 0;
    if (paku_ota_version_compare(o->latest_version, h->running, &cmp) != PAKU_OTA_OK) {
        (void)snprintf(res->reason, sizeof(res->reason), "offered version %.100s is not SemVer",
                       o->latest_version);
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    if (cmp == 0) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "offered version %.60s equals the running version %.60s",
                       o->latest_version, h->running);
        return PAKU_OTA_ERR_SAME_VERSION;
    }
    if (cmp < 0 && !(o->is_rollback && h->cfg.allow_downgrade)) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "downgrade from %.40s to %.40s refused (is_rollback=%s, allow_downgrade=%s)",
                       h->running, o->latest_version, o->is_rollback ? "true" : "false",
                       h->cfg.allow_downgrade ? "true" : "false");
        return PAKU_OTA_ERR_DOWNGRADE_REFUSED;
    }
    if (h->sigkey != NULL) {
        if (o->signature_len == 0) {
            set_reason(res, "release is unsigned but a signing key is configured");
            return PAKU_OTA_ERR_SIGNATURE_MISSING;
        }
        if (!paku_ota_sigkey_accepts(h->sigkey, o->signature_algorithm)) {
            (void)snprintf(res->reason, sizeof(res->reason), "release signed with %s but the signing key is %s",
                       paku_ota_sig_alg_name(o->signature_algorithm),
                       paku_ota_sigkey_kind_name(h->sigkey));
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
    } else if (o->signature_len > 0) {
        PAKU_OTA_LOGW(TAG, "release is signed but no signing key is configured: not verified");
    }
    if (h->refused_sha[0] != '\0' && strcmp(h->refused_sha, o->checksum_sha256) == 0) {
        /* Same bytes as last time: do not download them again. */
        (void)snprintf(res->reason, sizeof(res->reason), "%s", h->refused_reason);
        return h->refused_err;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t verify_image(paku_ota_handle_t h, const paku_ota_check_response_t *o,
                                   paku_ota_result_t *res)
{
    uint8_t digest[32];
    char hex[PAKU_OTA_SHA256_HEX_LEN + 1];
    paku_ota_err_t err = paku_ota_sha256_finish(h->sha, digest);
    if (err != PAKU_OTA_OK) {
        set_reason(res, "hashing failed");
        return err;
    }
    paku_ota_hex_encode(digest, sizeof(digest), hex);
    if (strcmp(hex, o->checksum_sha256) != 0) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "sha256 mismatch: expected %.16s..., got %.16s...", o->checksum_sha256,
                       hex);
        return PAKU_OTA_ERR_CHECKSUM_MISMATCH;
    }
    if (h->sigkey == NULL) {
        return PAKU_OTA_OK;
    }
    err = paku_ota_sigkey_verify(h->sigkey, o->signature_algorithm, digest, o->signature,
                                 o->signature_len);
    if (err == PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH) {
        (void)snprintf(res->reason, sizeof(res->reason), "release signed with %s but the signing key is %s",
                   paku_ota_sig_alg_name(o->signature_algorithm),
                   paku_ota_sigkey_kind_name(h->sigkey));
    } else if (err != PAKU_OTA_OK) {
        set_reason(res, "signature does not verify");
        if (err != PAKU_OTA_ERR_CRYPTO) {
            err = PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
    }
    return err;
}

static void remember_refusal(paku_ota_handle_t h, const paku_ota_check_response_t *o,
                             paku_ota_err_t err, const char *reason)
{
    memcpy(h->refused_sha, o->checksum_sha256, sizeof(h->refused_sha));
    (void)snprintf(h->refused_reason, sizeof(h->refused_reason), "%s", reason);
    h->refused_err = err;
}

static paku_ota_err_t install(paku_ota_handle_t h, const paku_ota_check_response_t *o,
                              paku_ota_result_t *res)
{
    paku_ota_reporter_t rep;
    paku_ota_reporter_init(&rep, send_status, h);
    (void)paku_ota_strcpy_checked(h->status_version, sizeof(h->status_version),
                                  o->latest_version);

    paku_ota_err_t err = vet_offer(h, o, res);
    if (err != PAKU_OTA_OK) {
        bool repeat = h->refused_sha[0] != '\0' && strcmp(h->refused_sha, o->checksum_sha256) == 0;
        if (!repeat) {
            paku_ota_reporter_failed(&rep, res->reason);
        }
        return err;
    }

    paku_ota_persist_t st;
    (void)load_state(h, &st);
    dl_ctx_t d;
    memset(&d, 0, sizeof(d));
    d.h = h;
    d.offer = o;
    d.st = &st;
    d.rep = &rep;
    d.res = res;

    bool same_image = strcmp(st.target_version, o->latest_version) == 0 &&
                      strcmp(st.expected_sha256, o->checksum_sha256) == 0 &&
                      st.image_size == o->size_bytes && !st.pending_confirm;
    err = PAKU_OTA_ERR_NOT_SUPPORTED;
    if (same_image && st.resume_offset > 0 && st.resume_offset <= o->size_bytes) {
        err = resume_image(&d, st.resume_offset);
        if (err != PAKU_OTA_OK) {
            PAKU_OTA_LOGI(TAG, "saved partial image not usable (%s); starting over",
                          paku_ota_err_to_name(err));
        }
    }
    if (err != PAKU_OTA_OK) {
        clear_download_state(&st);
        st.pending_confirm = false;
        (void)paku_ota_strcpy_checked(st.target_version, sizeof(st.target_version),
                                      o->latest_version);
        memcpy(st.expected_sha256, o->checksum_sha256, sizeof(st.expected_sha256));
        st.image_size = o->size_bytes;
        err = begin_image(&d);
        if (err != PAKU_OTA_OK) {
            if (err == PAKU_OTA_ERR_IMAGE_TOO_LARGE) {
                (void)snprintf(res->reason, sizeof(res->reason),
                               "image of %llu bytes does not fit the update partition",
                               (unsigned long long)o->size_bytes);
            } else {
                set_reason(res, "cannot open the update partition");
                err = PAKU_OTA_ERR_PARTITION;
            }
            clear_download_state(&st);
            save_state(h, &st);
            paku_ota_reporter_failed(&rep, res->reason);
            return err;
        }
    }

    uint64_t started_ms = h->port->now_ms(h->port->ctx);
    uint64_t first_byte = d.offset;
    err = fetch_image(&d);
    if (err == PAKU_OTA_OK) {
        uint64_t took = h->port->now_ms(h->port->ctx) - started_ms;
        PAKU_OTA_LOGI(TAG, "downloaded %llu bytes in %llu ms",
                      (unsigned long long)(d.offset - first_byte), (unsigned long long)took);
    }
    if (err != PAKU_OTA_OK) {
        bool transient = err == PAKU_OTA_ERR_HTTP_TRANSPORT || err == PAKU_OTA_ERR_RATE_LIMITED ||
                         err == PAKU_OTA_ERR_HTTP_STATUS;
        if (transient) {
            /* Partial image and state stay for the next cycle's resume. */
            return err;
        }
        h->port->part_abort(h->port->ctx);
        clear_download_state(&st);
        save_state(h, &st);
        paku_ota_reporter_failed(&rep, res->reason);
        return err;
    }

    paku_ota_reporter_installing(&rep);
    err = verify_image(h, o, res);
    if (err == PAKU_OTA_OK) {
        err = h->port->part_finish(h->port->ctx);
        if (err != PAKU_OTA_OK) {
            set_reason(res, "the platform rejected the image (esp_ota_end)");
            err = PAKU_OTA_ERR_PARTITION;
        }
    }
    if (err != PAKU_OTA_OK) {
        h->port->part_abort(h->port->ctx);
        clear_download_state(&st);
        save_state(h, &st);
        if (err == PAKU_OTA_ERR_CHECKSUM_MISMATCH || err == PAKU_OTA_ERR_SIGNATURE_INVALID) {
            remember_refusal(h, o, err, res->reason);
        }
        paku_ota_reporter_failed(&rep, res->reason);
        return err;
    }

    /* Record the pending confirmation before the slot becomes bootable, so a
     * power cut between the two still leads to a check-in after boot. */
    st.resume_offset = 0;
    st.pending_confirm = true;
    (void)paku_ota_strcpy_checked(st.previous_version, sizeof(st.previous_version), h->running);
    save_state(h, &st);
    err = h->port->part_set_boot(h->port->ctx, o->latest_version);
    if (err != PAKU_OTA_OK) {
        set_reason(res, "cannot set the boot partition");
        clear_download_state(&st);
        st.pending_confirm = false;
        st.previous_version[0] = '\0';
        save_state(h, &st);
        paku_ota_reporter_failed(&rep, res->reason);
        return PAKU_OTA_ERR_PARTITION;
    }
    paku_ota_reporter_success(&rep);
    PAKU_OTA_LOGI(TAG, "installed %s; restart to run it", o->latest_version);
    return PAKU_OTA_OK;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */

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

paku_ota_err_t paku_ota_create(const paku_ota_config_t *cfg, const paku_ota_port_t *port,
                               paku_ota_handle_t *out)
{
    if (cfg == NULL || out == NULL || !port_complete(port)) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (cfg->server_url == NULL ||
        (strncmp(cfg->server_url, "http://", 7) != 0 &&
         strncmp(cfg->server_url, "https://", 8) != 0) ||
        !printable_token(cfg->server_url, PAKU_OTA_SERVER_URL_MAX_LEN)) {
        return config_error("server_url must be http(s)://host[:port] (max 256 chars)");
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

    paku_ota_handle_t h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return PAKU_OTA_ERR_NO_MEM;
    }
    h->cfg = *cfg;
    h->port = port;
    if (h->cfg.state_save_interval < h->cfg.buffer_size) {
        h->cfg.state_save_interval = h->cfg.buffer_size;
    }
    (void)paku_ota_strcpy_checked(h->server_url, sizeof(h->server_url), cfg->server_url);
    size_t n = strlen(h->server_url);
    while (n > 0 && h->server_url[n - 1] == '/') {
        h->server_url[--n] = '\0';
    }

    char id[PAKU_OTA_ID_MAX_LEN * 3 + 1];
    (void)paku_ota_url_encode(cfg->device_id, id, sizeof(id));
    (void)snprintf(h->status_url, sizeof(h->status_url), "%s/api/device/%s/update-status",
                   h->server_url, id);

    paku_ota_err_t err = PAKU_OTA_OK;
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
    paku_ota_sigkey_free(h->sigkey);
    paku_ota_sha256_free(h->sha);
    free(h->buf);
    free(h);
}

static uint32_t next_after_success(paku_ota_handle_t h, const paku_ota_check_response_t *o)
{
    h->failures = 0;
    return o->has_next_check ? o->next_check_seconds : h->cfg.check_interval_s;
}

static uint32_t next_after_failure(paku_ota_handle_t h, const paku_ota_result_t *res)
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

static paku_ota_err_t handle_rolled_back(paku_ota_handle_t h, paku_ota_persist_t *st,
                                         paku_ota_result_t *res)
{
    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version), st->target_version);
    (void)snprintf(res->reason, sizeof(res->reason), "rolled back to %.60s after installing %.60s",
                   h->running, st->target_version);
    PAKU_OTA_LOGW(TAG, "%s", res->reason);
    paku_ota_reporter_t rep;
    paku_ota_reporter_init(&rep, send_status, h);
    (void)paku_ota_strcpy_checked(h->status_version, sizeof(h->status_version),
                                  st->target_version);
    paku_ota_reporter_failed(&rep, res->reason);
    st->pending_confirm = false;
    st->previous_version[0] = '\0';
    clear_download_state(st);
    save_state(h, st);
    res->outcome = PAKU_OTA_OUTCOME_FAILED;
    res->err = PAKU_OTA_ERR_ROLLED_BACK;
    return res->err;
}

paku_ota_err_t paku_ota_confirm_boot(paku_ota_handle_t h, paku_ota_result_t *result)
{
    paku_ota_result_t local;
    paku_ota_result_t *res = result != NULL ? result : &local;
    result_reset(res);
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_persist_t st;
    (void)load_state(h, &st);
    bool pending_verify = false;
    if (h->port->boot_pending_verify(h->port->ctx, &pending_verify) != PAKU_OTA_OK) {
        pending_verify = false;
    }
    if (!st.pending_confirm && !pending_verify) {
        res->outcome = PAKU_OTA_OUTCOME_NONE;
        return PAKU_OTA_OK;
    }
    paku_ota_err_t err = load_running(h);
    if (err != PAKU_OTA_OK) {
        set_reason(res, "running version unknown or not SemVer");
        res->outcome = PAKU_OTA_OUTCOME_FAILED;
        res->err = err;
        return err;
    }
    (void)paku_ota_strcpy_checked(res->from_version, sizeof(res->from_version), h->running);

    int cmp = 1;
    if (st.pending_confirm && st.target_version[0] != '\0' &&
        (paku_ota_version_compare(h->running, st.target_version, &cmp) != PAKU_OTA_OK ||
         cmp != 0) &&
        !pending_verify) {
        return handle_rolled_back(h, &st, res);
    }

    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version), h->running);
    PAKU_OTA_LOGI(TAG, "confirming %s with the server", h->running);
    paku_ota_check_response_t resp;
    bool reachable = false;
    err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    for (uint32_t a = 0; a < h->cfg.confirm_attempts; a++) {
        err = check_with_retries(h, h->running, &resp, res, 1);
        if (err == PAKU_OTA_OK) {
            break;
        }
        if (err == PAKU_OTA_ERR_RATE_LIMITED) {
            reachable = true; /* the server answered: this image can talk to it */
        }
        if (a + 1 < h->cfg.confirm_attempts) {
            if (err == PAKU_OTA_ERR_RATE_LIMITED && res->retry_after_s > 0) {
                uint32_t wait = res->retry_after_s < h->cfg.max_inline_retry_after_s
                                    ? res->retry_after_s
                                    : h->cfg.max_inline_retry_after_s;
                sleep_ms(h, (uint64_t)wait * 1000u);
            } else {
                backoff_sleep(h, a);
            }
        }
    }
    if (err == PAKU_OTA_OK || reachable) {
        paku_ota_err_t verr = h->port->mark_valid(h->port->ctx);
        if (verr != PAKU_OTA_OK) {
            PAKU_OTA_LOGE(TAG, "could not mark the image valid (%s)", paku_ota_err_to_name(verr));
        }
        st.pending_confirm = false;
        st.previous_version[0] = '\0';
        clear_download_state(&st);
        save_state(h, &st);
        res->outcome = PAKU_OTA_OUTCOME_CONFIRMED;
        res->err = PAKU_OTA_OK;
        res->reason[0] = '\0';
        res->next_check_s = err == PAKU_OTA_OK ? next_after_success(h, &resp)
                                               : h->cfg.check_interval_s;
        PAKU_OTA_LOGI(TAG, "%s confirmed", h->running);
        return PAKU_OTA_OK;
    }

    char why[PAKU_OTA_REASON_MAX_LEN];
    (void)snprintf(why, sizeof(why), "new image could not check in: %.100s", res->reason);
    PAKU_OTA_LOGE(TAG, "%s; rolling back", why);
    if (!st.pending_confirm) {
        /* Bootloader said pending but our record was lost: rebuild it so the
         * report after the rollback names the right version. */
        st.pending_confirm = true;
        (void)paku_ota_strcpy_checked(st.target_version, sizeof(st.target_version), h->running);
        save_state(h, &st);
    }
    err = h->port->mark_invalid_and_reboot(h->port->ctx);
    /* Only ports that simulate the reboot (host) get here on success. */
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGE(TAG, "rollback failed (%s)", paku_ota_err_to_name(err));
    }
    if (load_running(h) == PAKU_OTA_OK && err == PAKU_OTA_OK) {
        (void)handle_rolled_back(h, &st, res);
    }
    (void)snprintf(res->reason, sizeof(res->reason), "%s", why);
    res->outcome = PAKU_OTA_OUTCOME_FAILED;
    res->err = PAKU_OTA_ERR_CONFIRM_FAILED;
    return res->err;
}

paku_ota_err_t paku_ota_check_and_update(paku_ota_handle_t h, paku_ota_result_t *result)
{
    paku_ota_result_t local;
    paku_ota_result_t *res = result != NULL ? result : &local;
    result_reset(res);
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }

    /* An unconfirmed image cannot start another update (esp_ota_begin
     * refuses); settle it first. */
    paku_ota_persist_t st;
    (void)load_state(h, &st);
    bool pending_verify = false;
    (void)h->port->boot_pending_verify(h->port->ctx, &pending_verify);
    if (st.pending_confirm || pending_verify) {
        paku_ota_err_t cerr = paku_ota_confirm_boot(h, res);
        if (cerr == PAKU_OTA_ERR_CONFIRM_FAILED) {
            res->next_check_s = next_after_failure(h, res);
            return cerr;
        }
        result_reset(res);
        (void)load_state(h, &st);
    }

    paku_ota_err_t err = load_running(h);
    if (err != PAKU_OTA_OK) {
        set_reason(res, "running version unknown or not SemVer");
        res->err = err;
        res->outcome = PAKU_OTA_OUTCOME_FAILED;
        res->next_check_s = next_after_failure(h, res);
        return err;
    }
    (void)paku_ota_strcpy_checked(res->from_version, sizeof(res->from_version), h->running);

    paku_ota_check_response_t offer;
    err = check_with_retries(h, h->running, &offer, res, h->cfg.max_attempts);
    if (err != PAKU_OTA_OK) {
        res->err = err;
        res->outcome = paku_ota_outcome_for_err(err);
        res->next_check_s = next_after_failure(h, res);
        return err;
    }
    res->next_check_s = next_after_success(h, &offer);

    if (!offer.update_available) {
        if (st.target_version[0] != '\0' && !st.pending_confirm) {
            /* The partial download belongs to an offer that was withdrawn. */
            h->port->part_abort(h->port->ctx);
            clear_download_state(&st);
            save_state(h, &st);
        }
        res->outcome = PAKU_OTA_OUTCOME_UP_TO_DATE;
        PAKU_OTA_LOGI(TAG, "up to date at %s", h->running);
        return PAKU_OTA_OK;
    }

    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version),
                                  offer.latest_version);
    res->image_size = offer.size_bytes;
    PAKU_OTA_LOGI(TAG, "offered %s (%llu bytes%s%s)", offer.latest_version,
                  (unsigned long long)offer.size_bytes, offer.is_rollback ? ", rollback" : "",
                  offer.signature_len > 0 ? ", signed" : "");
    uint32_t pace = res->next_check_s;
    err = install(h, &offer, res);
    res->err = err;
    if (err == PAKU_OTA_OK) {
        res->outcome = PAKU_OTA_OUTCOME_UPDATED;
        res->reason[0] = '\0';
        return err;
    }
    res->outcome = paku_ota_outcome_for_err(err);
    /* Refusals keep the server's pace; other failures back off. */
    res->next_check_s = res->outcome == PAKU_OTA_OUTCOME_REFUSED ? pace
                                                                 : next_after_failure(h, res);
    PAKU_OTA_LOGW(TAG, "%s %s: %s", paku_ota_outcome_to_name(res->outcome),
                  offer.latest_version, res->reason);
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
    paku_ota_result_t res;
    (void)paku_ota_confirm_boot(h, &res);
    paku_ota_err_t err = PAKU_OTA_OK;
    for (uint32_t cycle = 1;; cycle++) {
        err = paku_ota_check_and_update(h, &res);
        uint32_t next = res.next_check_s;
        if (res.outcome == PAKU_OTA_OUTCOME_UPDATED) {
            paku_ota_restart(h); /* does not return on a device */
            paku_ota_result_t confirm;
            (void)paku_ota_confirm_boot(h, &confirm);
            if (confirm.next_check_s > 0) {
                next = confirm.next_check_s;
            }
        }
        if (max_cycles != 0 && cycle >= max_cycles) {
            return err;
        }
        PAKU_OTA_LOGI(TAG, "next check in %u s", (unsigned)next);
        sleep_ms(h, (uint64_t)next * 1000u);
    }
}
