/*
 * Streaming the offered image into the inactive slot while hashing it, with
 * Range resume after drops (within the call, or across a reboot from the
 * saved offset), and the image's own description read from its first bytes.
 *
 * Progress reports go out between requests, on the same kept-alive
 * connection: never while a response is being read.
 */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

typedef struct {
    paku_ota_handle_t h;
    paku_ota_result_t *res;
    uint64_t offset;       /* bytes written and hashed */
    uint64_t body_end;     /* exclusive end this response may fill */
    uint64_t since_save;
    bool range_requested;
    bool headers_seen;
    bool must_restart;     /* the partial image is unusable: begin at 0 */
    bool desc_checked;
    bool redirected;       /* the service answered a link to the bytes */
    paku_ota_err_t abort_err;
} dl_ctx_t;

/* ------------------------------------------------------------------------ */
/* The image's own description                                               */
/* ------------------------------------------------------------------------ */

static paku_ota_err_t desc_refuse(dl_ctx_t *d, paku_ota_err_t err, const char *what,
                                  const char *value)
{
    (void)snprintf(d->res->reason, sizeof(d->res->reason), "image description: %s%.40s", what,
                   value);
    return err;
}

/* What the image says about itself must agree with the offer and with this
 * device: same version as offered, same project as running, a secure_version
 * the chip's anti-rollback accepts. */
static paku_ota_err_t desc_verdict(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    paku_ota_app_desc_t *desc = &h->desc;
    if (paku_ota_app_desc_parse(h->head, sizeof(h->head), desc) != PAKU_OTA_OK) {
        return h->cfg.verify_app_desc
                   ? desc_refuse(d, PAKU_OTA_ERR_IMAGE_DESC, "not an ESP app image", "")
                   : PAKU_OTA_OK;
    }
    if (h->port->secure_version_ok != NULL &&
        !h->port->secure_version_ok(h->port->ctx, desc->secure_version)) {
        (void)snprintf(d->res->reason, sizeof(d->res->reason),
                       "secure_version %u is below the chip's anti-rollback minimum",
                       (unsigned)desc->secure_version);
        return PAKU_OTA_ERR_SECURE_VERSION;
    }
    if (!h->cfg.verify_app_desc) {
        return PAKU_OTA_OK;
    }
    int cmp = 1;
    if (paku_ota_version_compare(desc->version, h->offer.latest_version, &cmp) != PAKU_OTA_OK ||
        cmp != 0) {
        return desc_refuse(d, PAKU_OTA_ERR_IMAGE_DESC, "version differs from the offer: ",
                           desc->version);
    }
    char project[sizeof(desc->project_name)];
    if (h->port->running_project != NULL &&
        h->port->running_project(h->port->ctx, project, sizeof(project)) == PAKU_OTA_OK &&
        project[0] != '\0' && strcmp(project, desc->project_name) != 0) {
        return desc_refuse(d, PAKU_OTA_ERR_IMAGE_DESC, "built for another project: ",
                           desc->project_name);
    }
    return PAKU_OTA_OK;
}

/* Collects the image's first bytes; once they are all in, judges them.
 * pos is the image offset of data. */
static paku_ota_err_t desc_feed(dl_ctx_t *d, uint64_t pos, const uint8_t *data, size_t len)
{
    paku_ota_handle_t h = d->h;
    if (d->desc_checked || pos >= sizeof(h->head)) {
        return PAKU_OTA_OK;
    }
    size_t n = sizeof(h->head) - (size_t)pos;
    memcpy(h->head + pos, data, len < n ? len : n);
    if (pos + len < sizeof(h->head) && pos + len < h->offer.size_bytes) {
        return PAKU_OTA_OK;
    }
    d->desc_checked = true;
    return desc_verdict(d);
}

/* ------------------------------------------------------------------------ */
/* The partition                                                             */
/* ------------------------------------------------------------------------ */

static paku_ota_err_t begin_image(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    h->port->part_abort(h->port->ctx);
    d->offset = 0;
    d->since_save = 0;
    d->desc_checked = false;
    memset(h->head, 0, sizeof(h->head));
    h->st.resume_offset = 0;
    paku_ota_client_save_state(h);
    paku_ota_err_t err = h->port->part_begin(h->port->ctx, h->offer.size_bytes);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    return paku_ota_sha256_start(h->sha);
}

/* Continue the partial image at wanted (the port may lower it). After a
 * reboot the hash state of the interrupted attempt is gone: what is on flash
 * is re-hashed. Within one call (hashed: h->sha holds exactly [0, wanted))
 * the running hash is kept when the port continues at wanted — the only way
 * a port without read-back (ESP8266 Updater) can resume at all. */
static paku_ota_err_t resume_image(dl_ctx_t *d, uint64_t wanted, bool hashed)
{
    paku_ota_handle_t h = d->h;
    uint64_t off = wanted;
    paku_ota_err_t err = h->port->part_resume(h->port->ctx, h->offer.size_bytes, &off);
    if (err != PAKU_OTA_OK || off > wanted) {
        return err != PAKU_OTA_OK ? err : PAKU_OTA_ERR_PARTITION;
    }
    if (hashed && off == wanted) {
        d->since_save = 0;
        d->res->resumed_at = off;
        return PAKU_OTA_OK;
    }
    d->desc_checked = false;
    err = paku_ota_sha256_start(h->sha);
    for (uint64_t pos = 0; err == PAKU_OTA_OK && pos < off;) {
        size_t n = (off - pos) < h->buf_len ? (size_t)(off - pos) : h->buf_len;
        err = h->port->part_read(h->port->ctx, pos, h->buf, n);
        if (err == PAKU_OTA_OK) {
            err = paku_ota_sha256_update(h->sha, h->buf, n);
        }
        if (err == PAKU_OTA_OK) {
            err = desc_feed(d, pos, h->buf, n);
        }
        pos += n;
    }
    if (err != PAKU_OTA_OK) {
        return err;
    }
    d->offset = off;
    d->since_save = 0;
    h->st.resume_offset = off;
    if (off > 0) {
        char at[PAKU_OTA_U64_STR_SIZE];
        char of[PAKU_OTA_U64_STR_SIZE];
        d->res->resumed_at = off;
        PAKU_OTA_LOGI(TAG, "resuming %s at byte %s of %s", h->offer.latest_version,
                      paku_ota_u64_str(off, at), paku_ota_u64_str(h->offer.size_bytes, of));
    }
    return PAKU_OTA_OK;
}

/* ------------------------------------------------------------------------ */
/* One response                                                              */
/* ------------------------------------------------------------------------ */

static int dl_abort(dl_ctx_t *d, paku_ota_err_t err, const char *why)
{
    d->abort_err = err;
    if (why != NULL) {
        paku_ota_client_set_reason(d->res, why);
    }
    return err;
}

/* An ETag / X-Checksum-SHA256 naming other bytes than the check announced. */
static bool names_other_bytes(const char *header, const char *expected, bool must_be_digest)
{
    char v[PAKU_OTA_SHA256_HEX_LEN + 8];
    if (header[0] == '\0') {
        return false;
    }
    if (!paku_ota_etag_value(header, v, sizeof(v))) {
        return must_be_digest;
    }
    if (!must_be_digest && !paku_ota_is_sha256_hex(v)) {
        return false; /* an ETag that is not a digest says nothing */
    }
    return strcmp(v, expected) != 0;
}

static int dl_headers_206(dl_ctx_t *d, const paku_ota_http_response_t *resp)
{
    uint64_t start;
    uint64_t end;
    uint64_t total;
    if (!d->range_requested ||
        !paku_ota_parse_content_range(resp->content_range, &start, &end, &total) ||
        start != d->offset || total != d->h->offer.size_bytes) {
        d->must_restart = true;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "Content-Range does not match the requested range");
    }
    if (resp->has_content_length && resp->content_length != end - start + 1) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "Content-Length differs from Content-Range");
    }
    d->body_end = end + 1;
    return 0;
}

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The service may hand the bytes off to a file server with one redirect to an
 * absolute link. It is followed once: a link that redirects again is refused,
 * and https is never given up for http unless plain HTTP is allowed. */
static int dl_redirect(dl_ctx_t *d, const paku_ota_http_response_t *resp)
{
    paku_ota_handle_t h = d->h;
    const char *loc = resp->location;
    size_t n = paku_ota_strnlen(loc, sizeof(resp->location));
    if (h->offload_url[0] != '\0') {
        return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS, "the download link redirected again");
    }
    bool https = strncmp(loc, "https://", 8) == 0;
    bool http = strncmp(loc, "http://", 7) == 0;
    bool printable = true;
    for (size_t i = 0; i < n; i++) {
        printable = printable && loc[i] > ' ' && loc[i] < 0x7f;
    }
    if (n == 0 || n >= sizeof(resp->location) - 1 || !printable || (!https && !http)) {
        return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS, "redirect without an absolute http(s) Location");
    }
    if (http && !h->cfg.allow_plain_http) {
        return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS,
                        "redirect to plain http refused (allow_plain_http is off)");
    }
    memcpy(h->offload_url, loc, n);
    h->offload_url[n] = '\0';
    d->redirected = true;
    return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS, NULL);
}

static int dl_headers(void *user, const paku_ota_http_response_t *resp)
{
    dl_ctx_t *d = user;
    const paku_ota_check_response_t *o = &d->h->offer;
    d->headers_seen = true;
    d->res->http_status = resp->status;

    if (is_redirect(resp->status)) {
        return dl_redirect(d, resp);
    }
    if (resp->status == 429 || resp->status == 503) {
        d->res->retry_after_s = paku_ota_client_retry_after(resp->retry_after);
        return dl_abort(d, PAKU_OTA_ERR_RATE_LIMITED, "server busy during download");
    }
    if (resp->status == 416) {
        d->must_restart = true;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "server refused the resume range");
    }
    if (resp->status != 200 && resp->status != 206) {
        (void)snprintf(d->res->reason, sizeof(d->res->reason), "download answered http %d",
                       resp->status);
        return dl_abort(d, PAKU_OTA_ERR_HTTP_STATUS, NULL);
    }
    /* The bytes must be the ones the check announced (and, on resume, the
     * ones the saved partial image belongs to). */
    if (names_other_bytes(resp->checksum_sha256, o->checksum_sha256, true)) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "X-Checksum-SHA256 differs from the check's checksum_sha256");
    }
    if (names_other_bytes(resp->etag, o->checksum_sha256, false)) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH,
                        "ETag differs from the check's checksum_sha256");
    }
    if (resp->status == 206) {
        return dl_headers_206(d, resp);
    }
    if (resp->has_content_length && resp->content_length != o->size_bytes) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "Content-Length differs from size_bytes");
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

static int dl_body(void *user, const uint8_t *data, size_t len)
{
    dl_ctx_t *d = user;
    paku_ota_handle_t h = d->h;
    if (!d->headers_seen) {
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "body before headers");
    }
    if (len > d->body_end - d->offset) {
        d->must_restart = false;
        return dl_abort(d, PAKU_OTA_ERR_RESPONSE_MISMATCH, "server sent more bytes than announced");
    }
    paku_ota_err_t err = desc_feed(d, d->offset, data, len);
    if (err != PAKU_OTA_OK) {
        return dl_abort(d, err, NULL);
    }
    err = h->port->part_write(h->port->ctx, d->offset, data, len);
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
        h->st.resume_offset = d->offset;
        paku_ota_client_save_state(h);
        d->since_save = 0;
    }
    return 0;
}

/* One GET of [offset, ...): a range when resuming or when ranges are
 * configured. What the transfer's end means is classified here. */
static paku_ota_err_t fetch_once(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    const paku_ota_check_response_t *o = &h->offer;
    paku_ota_http_request_t req;
    paku_ota_client_request_init(h, &req, PAKU_OTA_REQ_DOWNLOAD, PAKU_OTA_HTTP_GET,
                                 h->offload_url[0] != '\0' ? h->offload_url : h->download_url);
    req.on_headers = dl_headers;
    req.on_body = dl_body;
    req.user = d;
    d->range_requested = d->offset > 0 || h->cfg.range_request_size > 0;
    if (d->range_requested) {
        req.has_range = true;
        req.range_start = d->offset;
        req.range_end = UINT64_MAX;
        if (h->cfg.range_request_size > 0 && o->size_bytes - d->offset > h->cfg.range_request_size) {
            req.range_end = d->offset + h->cfg.range_request_size - 1;
        }
    }
    d->headers_seen = false;
    d->redirected = false;
    d->must_restart = false;
    d->abort_err = PAKU_OTA_OK;
    d->body_end = o->size_bytes;
    d->res->http_status = 0;
    d->res->retry_after_s = 0;

    paku_ota_err_t err = h->port->http(h->port->ctx, &req, &h->resp);
    if (d->redirected) {
        return PAKU_OTA_OK; /* the next request goes to the link, same range */
    }
    if (err == PAKU_OTA_ERR_ABORTED && d->abort_err != PAKU_OTA_OK) {
        return d->abort_err;
    }
    if (err == PAKU_OTA_OK && d->headers_seen && d->offset >= d->body_end) {
        return PAKU_OTA_OK;
    }
    /* Dropped, ended early, or a port that never delivered headers. */
    char at[PAKU_OTA_U64_STR_SIZE];
    (void)snprintf(d->res->reason, sizeof(d->res->reason), "connection dropped at byte %s",
                   paku_ota_u64_str(d->offset, at));
    return PAKU_OTA_ERR_HTTP_TRANSPORT;
}

/* A file server refusing an offloaded link (expired 410, not valid 403, gone
 * 404) sends the device back to the service for a fresh one. */
static bool link_refused(const dl_ctx_t *d, paku_ota_err_t err)
{
    int s = d->res->http_status;
    return err == PAKU_OTA_ERR_HTTP_STATUS && (s == 403 || s == 404 || s == 410);
}

static bool transient_fetch_error(const dl_ctx_t *d, paku_ota_err_t err, bool offloaded)
{
    return (offloaded && link_refused(d, err)) || err == PAKU_OTA_ERR_HTTP_TRANSPORT || err == PAKU_OTA_ERR_RATE_LIMITED ||
           (err == PAKU_OTA_ERR_HTTP_STATUS &&
            paku_ota_client_retryable_status(d->res->http_status)) ||
           (err == PAKU_OTA_ERR_RESPONSE_MISMATCH && d->must_restart);
}

/* After a failed attempt: start over, or resume from what was written. */
static paku_ota_err_t reopen_image(dl_ctx_t *d)
{
    paku_ota_err_t err;
    if (d->must_restart || d->offset == 0) {
        err = begin_image(d);
    } else {
        err = resume_image(d, d->offset, true);
        if (err != PAKU_OTA_OK && !paku_ota_client_is_refusal(err)) {
            PAKU_OTA_LOGW(TAG, "cannot resume (%s); starting over", paku_ota_err_to_name(err));
            err = begin_image(d);
        }
    }
    if (err != PAKU_OTA_OK && !paku_ota_client_is_refusal(err)) {
        paku_ota_client_set_reason(d->res, "cannot prepare the partition");
        return err == PAKU_OTA_ERR_IMAGE_TOO_LARGE ? err : PAKU_OTA_ERR_PARTITION;
    }
    return err;
}

/* Fetches [offset, size) into the partition, resuming after drops. */
static paku_ota_err_t fetch_image(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    const paku_ota_check_response_t *o = &h->offer;
    uint32_t failed_attempts = 0;
    paku_ota_reporter_progress(&h->rep, d->offset, o->size_bytes);
    while (d->offset < o->size_bytes) {
        uint64_t before = d->offset;
        bool offloaded = h->offload_url[0] != '\0';
        paku_ota_err_t err = fetch_once(d);
        if (d->offset > before) {
            failed_attempts = 0; /* progress was made; only stalls count */
        }
        paku_ota_reporter_progress(&h->rep, d->offset, o->size_bytes);
        if (err == PAKU_OTA_OK) {
            continue; /* next range, or done */
        }
        PAKU_OTA_LOGW(TAG, "download attempt failed: %s (%s)", d->res->reason,
                      paku_ota_err_to_name(err));
        /* Keep what was written for a resume, in this call or after a reboot. */
        h->st.resume_offset = d->offset;
        paku_ota_client_save_state(h);
        h->offload_url[0] = '\0'; /* whatever failed, the service is asked again */
        if (!transient_fetch_error(d, err, offloaded) || ++failed_attempts >= h->cfg.max_attempts) {
            return err;
        }
        if (offloaded && link_refused(d, err)) {
            PAKU_OTA_LOGI(TAG, "download link refused (http %d); asking the service again",
                          d->res->http_status);
        } else if (err == PAKU_OTA_ERR_RATE_LIMITED) {
            if (!paku_ota_client_wait_retry(h, d->res->retry_after_s, failed_attempts - 1)) {
                return err;
            }
        } else {
            paku_ota_client_backoff(h, failed_attempts - 1);
        }
        err = reopen_image(d);
        if (err != PAKU_OTA_OK) {
            return err;
        }
    }
    return PAKU_OTA_OK;
}

/* Open the slot: resume the saved partial image when it belongs to the same
 * bytes, else begin anew. */
static paku_ota_err_t open_image(dl_ctx_t *d)
{
    paku_ota_handle_t h = d->h;
    const paku_ota_check_response_t *o = &h->offer;
    paku_ota_persist_t *st = &h->st;
    bool same_image = strcmp(st->target_version, o->latest_version) == 0 &&
                      strcmp(st->expected_sha256, o->checksum_sha256) == 0 &&
                      st->image_size == o->size_bytes && !st->pending_confirm;
    if (same_image && st->resume_offset > 0 && st->resume_offset <= o->size_bytes) {
        paku_ota_err_t err = resume_image(d, st->resume_offset, false);
        if (err == PAKU_OTA_OK || paku_ota_client_is_refusal(err)) {
            return err;
        }
        PAKU_OTA_LOGI(TAG, "saved partial image not usable (%s); starting over",
                      paku_ota_err_to_name(err));
    }
    paku_ota_client_clear_download_state(st);
    st->pending_confirm = false;
    (void)paku_ota_strcpy_checked(st->target_version, sizeof(st->target_version),
                                  o->latest_version);
    memcpy(st->expected_sha256, o->checksum_sha256, sizeof(st->expected_sha256));
    st->image_size = o->size_bytes;
    paku_ota_err_t err = begin_image(d);
    if (err == PAKU_OTA_ERR_IMAGE_TOO_LARGE) {
        char size[PAKU_OTA_U64_STR_SIZE];
        (void)snprintf(d->res->reason, sizeof(d->res->reason),
                       "image of %s bytes does not fit the update partition",
                       paku_ota_u64_str(o->size_bytes, size));
    } else if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(d->res, "cannot open the update partition");
        err = PAKU_OTA_ERR_PARTITION;
    }
    return err;
}

paku_ota_err_t paku_ota_client_download(paku_ota_handle_t h, paku_ota_result_t *res)
{
    const paku_ota_check_response_t *o = &h->offer;
    int n = snprintf(h->download_url, sizeof(h->download_url), "%s%s", h->server_url,
                     o->download_url);
    if (n < 0 || (size_t)n >= sizeof(h->download_url)) {
        paku_ota_client_set_reason(res, "download URL too long");
        return PAKU_OTA_ERR_BAD_URL;
    }
    h->offload_url[0] = '\0';
    dl_ctx_t d;
    memset(&d, 0, sizeof(d));
    d.h = h;
    d.res = res;
    paku_ota_err_t err = open_image(&d);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    uint64_t started_ms = h->port->now_ms(h->port->ctx);
    uint64_t first_byte = d.offset;
    err = fetch_image(&d);
    if (err == PAKU_OTA_OK) {
        char bytes[PAKU_OTA_U64_STR_SIZE];
        char ms[PAKU_OTA_U64_STR_SIZE];
        PAKU_OTA_LOGI(TAG, "downloaded %s bytes in %s ms",
                      paku_ota_u64_str(d.offset - first_byte, bytes),
                      paku_ota_u64_str(h->port->now_ms(h->port->ctx) - started_ms, ms));
    }
    return err;
}
