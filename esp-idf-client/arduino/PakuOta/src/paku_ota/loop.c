/*
 * The schedule behind PakuOta::loop(), shared by both Arduino cores: the
 * sketch calls loop() on every pass of its own loop(); nothing happens until
 * a check is due. The first step after boot settles the boot (the new image's
 * check-in and confirmation), later steps check at the server's
 * next_check_seconds, or after the back-off the core computes on failures.
 * Times are millis() values compared by difference, so the 49.7-day wrap is
 * harmless.
 */
#include <string.h>

#include "paku_ota_internal.h"
#include "paku_ota_port_arduino.h"

void paku_ota_loop_init(paku_ota_loop_t *l, paku_ota_handle_t h, bool auto_restart)
{
    memset(l, 0, sizeof(*l));
    l->h = h;
    l->auto_restart = auto_restart;
}

uint32_t paku_ota_loop_due_in(const paku_ota_loop_t *l, uint32_t now_ms)
{
    if (!l->boot_settled) {
        return 0;
    }
    uint32_t elapsed = now_ms - l->last_ms;
    return elapsed >= l->wait_ms ? 0 : l->wait_ms - elapsed;
}

/* The wait after a call: the core's next_check_s in milliseconds, never
 * below the server's minimum pace (a result without one, e.g. a boot
 * confirmation that failed, must not make loop() call again at once). */
static uint32_t wait_after(const paku_ota_result_t *r)
{
    uint32_t s = r->next_check_s < PAKU_OTA_NEXT_CHECK_MIN_S ? PAKU_OTA_NEXT_CHECK_MIN_S
                                                             : r->next_check_s;
    return s > UINT32_MAX / 1000u ? UINT32_MAX : s * 1000u;
}

bool paku_ota_loop_step(paku_ota_loop_t *l, uint32_t now_ms)
{
    if (l->h == NULL || paku_ota_loop_due_in(l, now_ms) > 0) {
        return false;
    }
    memset(&l->result, 0, sizeof(l->result));
    if (!l->boot_settled) {
        paku_ota_err_t err = paku_ota_confirm_boot(l->h, &l->result);
        l->boot_settled = true;
        if (err == PAKU_OTA_OK && l->result.outcome == PAKU_OTA_OUTCOME_NONE) {
            /* nothing was pending: go on to the first check at once */
            (void)paku_ota_check_and_update(l->h, &l->result);
        }
    } else {
        (void)paku_ota_check_and_update(l->h, &l->result);
    }
    l->last_ms = now_ms; /* the wait counts from the start of the call */
    l->wait_ms = wait_after(&l->result);
    if (l->result.outcome == PAKU_OTA_OUTCOME_UPDATED && l->auto_restart) {
        paku_ota_restart(l->h);
    }
    return true;
}
