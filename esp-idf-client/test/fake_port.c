#include "fake_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"

static paku_ota_err_t deliver(const paku_ota_http_request_t *req, paku_ota_http_response_t *resp,
                              const uint8_t *body, size_t len, size_t chunk, uint64_t drop_after)
{
    if (req->on_headers != NULL && req->on_headers(req->user, resp) != 0) {
        return PAKU_OTA_ERR_ABORTED;
    }
    size_t limit = len;
    bool drop = drop_after > 0 && drop_after < len;
    if (drop) {
        limit = (size_t)drop_after;
    }
    for (size_t pos = 0; pos < limit;) {
        size_t n = limit - pos < chunk ? limit - pos : chunk;
        if (req->on_body != NULL && req->on_body(req->user, body + pos, n) != 0) {
            return PAKU_OTA_ERR_ABORTED;
        }
        pos += n;
    }
    return drop ? PAKU_OTA_ERR_HTTP_TRANSPORT : PAKU_OTA_OK;
}

static paku_ota_err_t do_check(fake_t *f, const paku_ota_http_request_t *req,
                               paku_ota_http_response_t *resp)
{
    snprintf(f->last_check_url, sizeof(f->last_check_url), "%s", req->url);
    int i = f->check_calls < f->n_replies ? f->check_calls : f->n_replies - 1;
    f->check_calls++;
    if (i < 0) {
        return PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    const fake_reply_t *r = &f->replies[i];
    if (r->status == 0) {
        return PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    resp->status = r->status;
    snprintf(resp->retry_after, sizeof(resp->retry_after), "%s", r->retry_after);
    size_t len = strlen(r->body);
    resp->has_content_length = true;
    resp->content_length = len;
    return deliver(req, resp, (const uint8_t *)r->body, len, 100, 0);
}

static paku_ota_err_t do_download(fake_t *f, const paku_ota_http_request_t *req,
                                  paku_ota_http_response_t *resp)
{
    int i = f->download_calls++;
    int slot = i < FAKE_MAX ? i : FAKE_MAX - 1;
    f->had_range[slot] = req->has_range;
    f->range_start[slot] = req->range_start;
    f->range_end[slot] = req->range_end;
    snprintf(f->url[slot], sizeof(f->url[slot]), "%s", req->url);
    if (f->status_override[slot] != 0) {
        resp->status = f->status_override[slot];
        snprintf(resp->retry_after, sizeof(resp->retry_after), "%s", f->retry_after);
        snprintf(resp->location, sizeof(resp->location), "%s", f->location[slot]);
        return deliver(req, resp, (const uint8_t *)"{}", 2, 2, 0);
    }
    snprintf(resp->etag, sizeof(resp->etag), "%s", f->etag);
    snprintf(resp->checksum_sha256, sizeof(resp->checksum_sha256), "%s", f->xsha);
    uint64_t start = 0;
    uint64_t end = f->image_len - 1;
    if (req->has_range && !f->ignore_range) {
        start = req->range_start;
        if (req->range_end != UINT64_MAX && req->range_end < end) {
            end = req->range_end;
        }
        if (start >= f->image_len) {
            resp->status = 416;
            return deliver(req, resp, NULL, 0, 1, 0);
        }
        resp->status = 206;
        uint64_t shown = f->bad_content_range ? start + 1 : start;
        snprintf(resp->content_range, sizeof(resp->content_range), "bytes %llu-%llu/%llu",
                 (unsigned long long)shown, (unsigned long long)end,
                 (unsigned long long)f->image_len);
    } else {
        resp->status = 200;
    }
    resp->has_content_length = true;
    resp->content_length = end - start + 1;
    return deliver(req, resp, f->image + start, (size_t)(end - start + 1),
                   f->chunk != 0 ? f->chunk : 4096, f->drop_after[slot]);
}

static paku_ota_err_t do_status(fake_t *f, const paku_ota_http_request_t *req,
                                paku_ota_http_response_t *resp)
{
    cJSON *j = cJSON_ParseWithLength(req->body, req->body_len);
    if (j == NULL) {
        resp->status = 400;
        return deliver(req, resp, NULL, 0, 1, 0);
    }
    if (f->n_posts < FAKE_MAX) {
        fake_post_t *p = &f->posts[f->n_posts++];
        memset(p, 0, sizeof(*p));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "status");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "firmware_version");
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "progress_percent");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error_message");
        if (cJSON_IsString(s)) {
            snprintf(p->status, sizeof(p->status), "%s", s->valuestring);
        }
        if (cJSON_IsString(v)) {
            snprintf(p->version, sizeof(p->version), "%s", v->valuestring);
        }
        p->progress = cJSON_IsNumber(pr) ? pr->valueint : -1;
        if (cJSON_IsString(e)) {
            p->has_error = true;
            snprintf(p->error, sizeof(p->error), "%s", e->valuestring);
        }
    }
    cJSON_Delete(j);
    resp->status = 200;
    return deliver(req, resp, NULL, 0, 1, 0);
}

static paku_ota_err_t dispatch(fake_t *f, const paku_ota_http_request_t *req,
                               paku_ota_http_response_t *resp)
{
    switch (req->kind) {
    case PAKU_OTA_REQ_CHECK:
        return do_check(f, req, resp);
    case PAKU_OTA_REQ_DOWNLOAD:
        return do_download(f, req, resp);
    case PAKU_OTA_REQ_STATUS:
        return do_status(f, req, resp);
    }
    return PAKU_OTA_ERR_INVALID_ARG;
}

/* One kept-alive connection, as the real ports keep it: opened by the first
 * request, reused by the next, closed by http_close, a failure or an abort.
 * A request made while a response is still being read cannot use it. */
static paku_ota_err_t f_http(void *ctx, const paku_ota_http_request_t *req,
                             paku_ota_http_response_t *resp)
{
    fake_t *f = ctx;
    memset(resp, 0, sizeof(*resp));
    if (f->busy) {
        f->nested++;
    }
    if (f->unreachable) {
        f->connected = false;
        return PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    if (!f->connected) {
        f->handshakes++;
        f->connected = true;
    }
    bool outer = !f->busy;
    f->busy = true;
    paku_ota_err_t err = dispatch(f, req, resp);
    if (outer) {
        f->busy = false;
    }
    if (err != PAKU_OTA_OK) {
        f->connected = false;
    }
    return err;
}

static void f_http_close(void *ctx)
{
    ((fake_t *)ctx)->connected = false;
}

static paku_ota_err_t f_running_project(void *ctx, char *buf, size_t len)
{
    snprintf(buf, len, "%s", ((fake_t *)ctx)->project);
    return PAKU_OTA_OK;
}

static bool f_secure_version_ok(void *ctx, uint32_t v)
{
    fake_t *f = ctx;
    return !f->anti_rollback || v >= f->min_secure_version;
}

static paku_ota_err_t f_part_begin(void *ctx, uint64_t size)
{
    fake_t *f = ctx;
    f->begin_calls++;
    if (size > f->capacity) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    memset(f->flash, 0xFF, f->capacity);
    f->open = true;
    f->finished = false;
    f->cursor = 0;
    f->image_size = size;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_part_resume(void *ctx, uint64_t size, uint64_t *offset)
{
    fake_t *f = ctx;
    f->resume_calls++;
    if (size > f->capacity) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    if (!f->open) {
        /* After a power cycle the written prefix is still on flash. */
        f->open = true;
        f->image_size = size;
        if (*offset > f->cursor) {
            *offset = f->cursor;
        }
    } else if (*offset > f->cursor) {
        *offset = f->cursor;
    }
    if (f->resume_align > 0) {
        *offset -= *offset % f->resume_align;
    }
    f->cursor = *offset;
    f->finished = false;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_part_write(void *ctx, uint64_t offset, const uint8_t *data, size_t len)
{
    fake_t *f = ctx;
    if (!f->open || offset != f->cursor || offset + len > f->image_size) {
        return PAKU_OTA_ERR_PARTITION;
    }
    memcpy(f->flash + offset, data, len);
    f->cursor += len;
    if (f->cursor > f->max_written) {
        f->max_written = f->cursor;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_part_read(void *ctx, uint64_t offset, uint8_t *data, size_t len)
{
    fake_t *f = ctx;
    if (offset + len > f->cursor) {
        return PAKU_OTA_ERR_PARTITION;
    }
    memcpy(data, f->flash + offset, len);
    f->read_bytes += len;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_part_finish(void *ctx)
{
    fake_t *f = ctx;
    f->finish_calls++;
    if (!f->open || f->cursor != f->image_size || f->fail_finish) {
        return PAKU_OTA_ERR_PARTITION;
    }
    f->open = false;
    f->finished = true;
    return PAKU_OTA_OK;
}

static void f_part_abort(void *ctx)
{
    fake_t *f = ctx;
    f->open = false;
    f->finished = false;
}

static paku_ota_err_t f_part_set_boot(void *ctx, const char *version)
{
    fake_t *f = ctx;
    if (!f->finished || f->fail_set_boot) {
        return PAKU_OTA_ERR_PARTITION;
    }
    snprintf(f->boot_version, sizeof(f->boot_version), "%s", version);
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_state_load(void *ctx, paku_ota_persist_t *st)
{
    *st = ((fake_t *)ctx)->st;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_state_save(void *ctx, const paku_ota_persist_t *st)
{
    fake_t *f = ctx;
    f->st = *st;
    f->saves++;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_running_version(void *ctx, char *buf, size_t len)
{
    snprintf(buf, len, "%s", ((fake_t *)ctx)->running);
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_boot_pending_verify(void *ctx, bool *pending)
{
    *pending = ((fake_t *)ctx)->pending_verify;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_mark_valid(void *ctx)
{
    fake_t *f = ctx;
    f->mark_valid_calls++;
    f->pending_verify = false;
    return PAKU_OTA_OK;
}

static paku_ota_err_t f_mark_invalid_and_reboot(void *ctx)
{
    fake_t *f = ctx;
    f->mark_invalid_calls++;
    if (f->previous[0] == '\0') {
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    snprintf(f->running, sizeof(f->running), "%s", f->previous);
    f->previous[0] = '\0';
    f->pending_verify = false;
    return PAKU_OTA_OK;
}

static void f_restart(void *ctx)
{
    fake_t *f = ctx;
    f->restarts++;
    f->open = false;
    if (f->boot_version[0] != '\0') {
        snprintf(f->previous, sizeof(f->previous), "%s", f->running);
        snprintf(f->running, sizeof(f->running), "%s", f->boot_version);
        f->boot_version[0] = '\0';
        f->pending_verify = true;
    }
}

static void f_sleep_ms(void *ctx, uint32_t ms)
{
    fake_t *f = ctx;
    f->now_ms += ms;
    f->slept_ms += ms;
    if (f->n_sleeps < FAKE_MAX) {
        f->sleeps[f->n_sleeps++] = ms;
    }
}

static uint64_t f_now_ms(void *ctx)
{
    return ((fake_t *)ctx)->now_ms;
}

static uint32_t f_random_u32(void *ctx)
{
    fake_t *f = ctx;
    /* xorshift32: deterministic, covers the whole range */
    uint32_t x = f->rnd;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->rnd = x;
    return x;
}

void fake_init(fake_t *f, const uint8_t *image, size_t image_len, size_t capacity,
               const char *running)
{
    memset(f, 0, sizeof(*f));
    f->image = image;
    f->image_len = image_len;
    f->capacity = capacity;
    f->flash = malloc(capacity);
    memset(f->flash, 0xFF, capacity);
    snprintf(f->running, sizeof(f->running), "%s", running);
    f->rnd = 0x12345678u;
    paku_ota_port_t *p = &f->port;
    p->ctx = f;
    p->http = f_http;
    p->http_close = f_http_close;
    p->running_project = f_running_project;
    p->secure_version_ok = f_secure_version_ok;
    p->part_begin = f_part_begin;
    p->part_resume = f_part_resume;
    p->part_write = f_part_write;
    p->part_read = f_part_read;
    p->part_finish = f_part_finish;
    p->part_abort = f_part_abort;
    p->part_set_boot = f_part_set_boot;
    p->state_load = f_state_load;
    p->state_save = f_state_save;
    p->running_version = f_running_version;
    p->boot_pending_verify = f_boot_pending_verify;
    p->mark_valid = f_mark_valid;
    p->mark_invalid_and_reboot = f_mark_invalid_and_reboot;
    p->restart = f_restart;
    p->sleep_ms = f_sleep_ms;
    p->now_ms = f_now_ms;
    p->random_u32 = f_random_u32;
}

void fake_free(fake_t *f)
{
    free(f->flash);
    f->flash = NULL;
}

void fake_reply(fake_t *f, int status, const char *body, const char *retry_after)
{
    if (f->n_replies >= 8) {
        return;
    }
    fake_reply_t *r = &f->replies[f->n_replies++];
    r->status = status;
    snprintf(r->body, sizeof(r->body), "%s", body != NULL ? body : "");
    snprintf(r->retry_after, sizeof(r->retry_after), "%s", retry_after != NULL ? retry_after : "");
}

void fake_power_cycle(fake_t *f)
{
    f->open = false;
}

int fake_count_posts(const fake_t *f, const char *status)
{
    int n = 0;
    for (int i = 0; i < f->n_posts; i++) {
        if (strcmp(f->posts[i].status, status) == 0) {
            n++;
        }
    }
    return n;
}
