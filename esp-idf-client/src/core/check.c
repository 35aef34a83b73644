/*
 * GET /api/firmware/check, and the public call that starts from it:
 * paku_ota_check_and_update (check → install what is offered).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

typedef struct {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
} check_ctx_t;

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

/* Appends "name=<value percent-encoded>" to the check URL. */
static bool append_param(char *url, size_t size, const char *sep, const char *name,
                         const char *value)
{
    size_t used = strlen(url);
    int n = snprintf(url + used, size - used, "%s%s=", sep, name);
    if (n < 0 || (size_t)n >= size - used) {
        return false;
    }
    used += (size_t)n;
    return paku_ota_url_encode(value, url + used, size - used);
}

static paku_ota_err_t build_check_url(paku_ota_handle_t h, const char *version)
{
    char *url = h->check_url;
    int n = snprintf(url, sizeof(h->check_url), "%s/api/firmware/check", h->server_url);
    bool ok = n > 0 && (size_t)n < sizeof(h->check_url) &&
              append_param(url, sizeof(h->check_url), "?", "device_id", h->cfg.device_id) &&
              append_param(url, sizeof(h->check_url), "&", "device_model",
                           h->cfg.device_model) &&
              append_param(url, sizeof(h->check_url), "&", "current_version", version);
    return ok ? PAKU_OTA_OK : PAKU_OTA_ERR_BUFFER_TOO_SMALL;
}

/* What the status line and the body of a completed check mean. */
static paku_ota_err_t check_outcome(paku_ota_handle_t h, const check_ctx_t *c,
                                    paku_ota_result_t *res)
{
    int status = h->resp.status;
    if (status == 429 || status == 503) {
        res->retry_after_s = paku_ota_client_retry_after(h->resp.retry_after);
        (void)snprintf(res->reason, sizeof(res->reason), "server busy (http %d, retry after %u s)",
                       status, (unsigned)res->retry_after_s);
        return PAKU_OTA_ERR_RATE_LIMITED;
    }
    if (status != 200) {
        (void)snprintf(res->reason, sizeof(res->reason), "check answered http %d", status);
        return PAKU_OTA_ERR_HTTP_STATUS;
    }
    const char *detail = NULL;
    paku_ota_err_t err = paku_ota_parse_check_response(c->body, c->len, &h->offer, &detail);
    if (err != PAKU_OTA_OK) {
        (void)snprintf(res->reason, sizeof(res->reason), "invalid check response: %s (%s)",
                       detail != NULL ? detail : "?", paku_ota_err_to_name(err));
    }
    return err;
}

/* One GET /api/firmware/check into h->offer. res->http_status is non-zero
 * whenever the server answered at all. */
static paku_ota_err_t check_once(paku_ota_handle_t h, const char *version, paku_ota_result_t *res)
{
    paku_ota_err_t err = build_check_url(h, version);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "check URL too long");
        return err;
    }
    check_ctx_t c = {NULL, 0, h->cfg.max_response_size, false};
    c.body = malloc(c.cap);
    if (c.body == NULL) {
        paku_ota_client_set_reason(res, "out of memory for the check response");
        return PAKU_OTA_ERR_NO_MEM;
    }
    paku_ota_http_request_t req;
    paku_ota_client_request_init(h, &req, PAKU_OTA_REQ_CHECK, PAKU_OTA_HTTP_GET, h->check_url);
    req.on_body = check_body;
    req.user = &c;
    err = h->port->http(h->port->ctx, &req, &h->resp);
    res->http_status = h->resp.status;
    if (err == PAKU_OTA_ERR_ABORTED && c.too_large) {
        err = PAKU_OTA_ERR_RESPONSE_TOO_LARGE;
        paku_ota_client_set_reason(res, "check response larger than the limit");
    } else if (err != PAKU_OTA_OK) {
        err = PAKU_OTA_ERR_HTTP_TRANSPORT;
        res->http_status = 0;
        paku_ota_client_set_reason(res, "cannot reach the server");
    } else {
        err = check_outcome(h, &c, res);
    }
    free(c.body);
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "check failed: %s", res->reason);
    }
    return err;
}

paku_ota_err_t paku_ota_client_check(paku_ota_handle_t h, const char *version,
                                     paku_ota_result_t *res, uint32_t attempts)
{
    paku_ota_err_t err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    for (uint32_t a = 0; a < attempts; a++) {
        res->retry_after_s = 0;
        res->http_status = 0;
        err = check_once(h, version, res);
        if (err == PAKU_OTA_OK || a + 1 >= attempts) {
            return err;
        }
        if (err == PAKU_OTA_ERR_RATE_LIMITED) {
            if (!paku_ota_client_wait_retry(h, res->retry_after_s, a)) {
                return err;
            }
            continue;
        }
        bool transient = err == PAKU_OTA_ERR_HTTP_TRANSPORT ||
                         (err == PAKU_OTA_ERR_HTTP_STATUS &&
                          paku_ota_client_retryable_status(res->http_status));
        if (!transient) {
            return err;
        }
        paku_ota_client_backoff(h, a);
    }
    return err;
}

/* An unconfirmed image cannot start another update (esp_ota_begin refuses):
 * settle it first. Returns false when the call must end here. */
static bool settle_pending(paku_ota_handle_t h, paku_ota_result_t *res, paku_ota_err_t *err)
{
    paku_ota_client_load_state(h);
    bool pending_verify = false;
    (void)h->port->boot_pending_verify(h->port->ctx, &pending_verify);
    if (!h->st.pending_confirm && !pending_verify) {
        return true;
    }
    *err = paku_ota_client_confirm(h, res);
    if (*err == PAKU_OTA_ERR_CONFIRM_FAILED) {
        res->next_check_s = paku_ota_client_next_after_failure(h, res);
        return false;
    }
    memset(res, 0, sizeof(*res));
    paku_ota_client_load_state(h);
    return true;
}

static paku_ota_err_t fail_cycle(paku_ota_handle_t h, paku_ota_result_t *res, paku_ota_err_t err,
                                 paku_ota_outcome_t outcome)
{
    res->err = err;
    res->outcome = outcome;
    res->next_check_s = paku_ota_client_next_after_failure(h, res);
    return err;
}

static paku_ota_err_t up_to_date(paku_ota_handle_t h, paku_ota_result_t *res)
{
    if (h->st.target_version[0] != '\0' && !h->st.pending_confirm) {
        /* The partial download belongs to an offer that was withdrawn. */
        h->port->part_abort(h->port->ctx);
        paku_ota_client_clear_download_state(&h->st);
        paku_ota_client_save_state(h);
    }
    res->outcome = PAKU_OTA_OUTCOME_UP_TO_DATE;
    PAKU_OTA_LOGI(TAG, "up to date at %s", h->running);
    return PAKU_OTA_OK;
}

static paku_ota_err_t check_and_update(paku_ota_handle_t h, paku_ota_result_t *res)
{
    paku_ota_err_t err = PAKU_OTA_OK;
    if (!settle_pending(h, res, &err)) {
        return err;
    }
    err = paku_ota_client_load_running(h);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "running version unknown or not SemVer");
        return fail_cycle(h, res, err, PAKU_OTA_OUTCOME_FAILED);
    }
    (void)paku_ota_strcpy_checked(res->from_version, sizeof(res->from_version), h->running);

    err = paku_ota_client_check(h, h->running, res, h->cfg.max_attempts);
    if (err != PAKU_OTA_OK) {
        return fail_cycle(h, res, err, paku_ota_outcome_for_err(err));
    }
    res->next_check_s = paku_ota_client_next_after_success(h);
    const paku_ota_check_response_t *o = &h->offer;
    if (!o->update_available) {
        return up_to_date(h, res);
    }

    char size[PAKU_OTA_U64_STR_SIZE];
    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version), o->latest_version);
    res->image_size = o->size_bytes;
    PAKU_OTA_LOGI(TAG, "offered %s (%s bytes%s%s)", o->latest_version,
                  paku_ota_u64_str(o->size_bytes, size), o->is_rollback ? ", rollback" : "",
                  o->signature_len > 0 ? ", signed" : "");
    uint32_t pace = res->next_check_s;
    err = paku_ota_client_install(h, res);
    res->err = err;
    if (err == PAKU_OTA_OK) {
        res->outcome = PAKU_OTA_OUTCOME_UPDATED;
        res->reason[0] = '\0';
        return err;
    }
    res->outcome = paku_ota_outcome_for_err(err);
    /* Refusals keep the server's pace; other failures back off. */
    res->next_check_s = res->outcome == PAKU_OTA_OUTCOME_REFUSED
                            ? pace
                            : paku_ota_client_next_after_failure(h, res);
    PAKU_OTA_LOGW(TAG, "%s %s: %s", paku_ota_outcome_to_name(res->outcome), o->latest_version,
                  res->reason);
    return err;
}

paku_ota_err_t paku_ota_check_and_update(paku_ota_handle_t h, paku_ota_result_t *result)
{
    if (h == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_result_t *res = result != NULL ? result : &h->scratch;
    memset(res, 0, sizeof(*res));
    paku_ota_err_t err = check_and_update(h, res);
    if (h->port->http_close != NULL) {
        h->port->http_close(h->port->ctx);
    }
    return err;
}
