/*
 * The first boot after an update. The new image checks in with the server
 * (current_version = its version, which confirms it there) and is marked
 * valid; the bootloader rolls it back only when it cannot reach the server at
 * all. Any HTTP answer — 200, 429, 500, 502, 503, 504 … — proves that this
 * image's network stack, TLS and device identity work, which is what the
 * rollback guards; the server's own trouble must never cost a good image.
 * Only transport failures (no answer) count against it, confirm_attempts
 * times with back-off in between.
 */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

/* res->reason = prefix + res->reason, cut to fit. */
static void prefix_reason(paku_ota_result_t *res, const char *prefix)
{
    size_t cap = sizeof(res->reason) - 1;
    size_t p = strlen(prefix);
    size_t n = paku_ota_strnlen(res->reason, cap);
    if (p > cap) {
        p = cap;
    }
    if (n > cap - p) {
        n = cap - p;
    }
    memmove(res->reason + p, res->reason, n);
    memcpy(res->reason, prefix, p);
    res->reason[p + n] = '\0';
}

static void forget_update(paku_ota_handle_t h)
{
    h->st.pending_confirm = false;
    h->st.previous_version[0] = '\0';
    paku_ota_client_clear_download_state(&h->st);
    paku_ota_client_save_state(h);
}

/* The device runs its previous image again: tell the server the update
 * failed (with res->reason), and stop waiting for a confirmation. */
static void report_rolled_back(paku_ota_handle_t h, paku_ota_result_t *res)
{
    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version),
                                  h->st.target_version);
    PAKU_OTA_LOGW(TAG, "%s", res->reason);
    paku_ota_client_reports_for(h, h->st.target_version);
    paku_ota_reporter_failed(&h->rep, res->reason);
    forget_update(h);
    res->outcome = PAKU_OTA_OUTCOME_FAILED;
}

static paku_ota_err_t came_back_on_old(paku_ota_handle_t h, paku_ota_result_t *res)
{
    (void)snprintf(res->reason, sizeof(res->reason), "rolled back to %.60s after installing %.60s",
                   h->running, h->st.target_version);
    report_rolled_back(h, res);
    res->err = PAKU_OTA_ERR_ROLLED_BACK;
    return res->err;
}

/* Check in until the server answers; PAKU_OTA_OK when it answered at all. */
static paku_ota_err_t check_in(paku_ota_handle_t h, paku_ota_result_t *res, bool *answered)
{
    paku_ota_err_t err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    *answered = false;
    for (uint32_t a = 0; a < h->cfg.confirm_attempts; a++) {
        err = paku_ota_client_check(h, h->running, res, 1);
        if (err == PAKU_OTA_OK || res->http_status != 0) {
            *answered = true;
            return err;
        }
        if (a + 1 < h->cfg.confirm_attempts) {
            paku_ota_client_backoff(h, a);
        }
    }
    return err;
}

static paku_ota_err_t confirmed(paku_ota_handle_t h, paku_ota_result_t *res, paku_ota_err_t check)
{
    paku_ota_err_t verr = h->port->mark_valid(h->port->ctx);
    if (verr != PAKU_OTA_OK) {
        PAKU_OTA_LOGE(TAG, "could not mark the image valid (%s)", paku_ota_err_to_name(verr));
    }
    if (check != PAKU_OTA_OK) {
        PAKU_OTA_LOGW(TAG, "server answered the check-in with an error (%s); it reached the "
                           "server, so the image stays",
                      res->reason);
    }
    forget_update(h);
    res->outcome = PAKU_OTA_OUTCOME_CONFIRMED;
    res->err = PAKU_OTA_OK;
    res->reason[0] = '\0';
    res->next_check_s = check == PAKU_OTA_OK ? paku_ota_client_next_after_success(h)
                                             : h->cfg.check_interval_s;
    PAKU_OTA_LOGI(TAG, "%s confirmed", h->running);
    return PAKU_OTA_OK;
}

static paku_ota_err_t roll_back(paku_ota_handle_t h, paku_ota_result_t *res)
{
    prefix_reason(res, "new image could not check in: ");
    PAKU_OTA_LOGE(TAG, "%s; rolling back", res->reason);
    if (!h->st.pending_confirm) {
        /* Bootloader said pending but our record was lost: rebuild it so the
         * report after the rollback names the right version. */
        h->st.pending_confirm = true;
        (void)paku_ota_strcpy_checked(h->st.target_version, sizeof(h->st.target_version),
                                      h->running);
        paku_ota_client_save_state(h);
    }
    paku_ota_err_t err = h->port->mark_invalid_and_reboot(h->port->ctx);
    /* Only ports that simulate the reboot (host) get here on success. */
    if (err != PAKU_OTA_OK) {
        PAKU_OTA_LOGE(TAG, "rollback failed (%s)", paku_ota_err_to_name(err));
    } else if (paku_ota_client_load_running(h) == PAKU_OTA_OK) {
        report_rolled_back(h, res);
    }
    res->outcome = PAKU_OTA_OUTCOME_FAILED;
    res->err = PAKU_OTA_ERR_CONFIRM_FAILED;
    return res->err;
}

paku_ota_err_t paku_ota_client_confirm(paku_ota_handle_t h, paku_ota_result_t *res)
{
    paku_ota_client_load_state(h);
    bool pending_verify = false;
    if (h->port->boot_pending_verify(h->port->ctx, &pending_verify) != PAKU_OTA_OK) {
        pending_verify = false;
    }
    if (!h->st.pending_confirm && !pending_verify) {
        res->outcome = PAKU_OTA_OUTCOME_NONE;
        return PAKU_OTA_OK;
    }
    paku_ota_err_t err = paku_ota_client_load_running(h);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "running version unknown or not SemVer");
        res->outcome = PAKU_OTA_OUTCOME_FAILED;
        res->err = err;
        return err;
    }
    (void)paku_ota_strcpy_checked(res->from_version, sizeof(res->from_version), h->running);

    int cmp = 1;
    if (h->st.pending_confirm && h->st.target_version[0] != '\0' && !pending_verify &&
        (paku_ota_version_compare(h->running, h->st.target_version, &cmp) != PAKU_OTA_OK ||
         cmp != 0)) {
        return came_back_on_old(h, res);
    }

    (void)paku_ota_strcpy_checked(res->to_version, sizeof(res->to_version), h->running);
    PAKU_OTA_LOGI(TAG, "confirming %s with the server", h->running);
    bool answered = false;
    err = check_in(h, res, &answered);
    return answered ? confirmed(h, res, err) : roll_back(h, res);
}
