/*
 * Status reporting state machine for one target version.
 *
 *   IDLE ──progress──▶ DOWNLOADING ──▶ INSTALLING ──▶ SUCCESS
 *     └──────────────────┴───────────────┴──────────▶ FAILED
 *
 * `downloading` goes out at the first progress call and then whenever the
 * progress reaches a new multiple of 10 %, so a 1.5 MB image costs at most
 * eleven reports and a resumed download does not repeat old ones. Terminal
 * states accept nothing more.
 */
#include <stdio.h>
#include <string.h>

#include "paku_ota_internal.h"

const char *paku_ota_status_name(paku_ota_status_t status)
{
    switch (status) {
    case PAKU_OTA_STATUS_DOWNLOADING:
        return "downloading";
    case PAKU_OTA_STATUS_INSTALLING:
        return "installing";
    case PAKU_OTA_STATUS_SUCCESS:
        return "success";
    case PAKU_OTA_STATUS_FAILED:
        return "failed";
    }
    return "failed";
}

void paku_ota_reporter_init(paku_ota_reporter_t *r, paku_ota_status_send_t send, void *user)
{
    r->phase = PAKU_OTA_PHASE_IDLE;
    r->last_decile = -1;
    r->send = send;
    r->user = user;
}

static bool terminal(const paku_ota_reporter_t *r)
{
    return r->phase == PAKU_OTA_PHASE_SUCCESS || r->phase == PAKU_OTA_PHASE_FAILED;
}

bool paku_ota_reporter_progress(paku_ota_reporter_t *r, uint64_t done, uint64_t total)
{
    if (terminal(r) || r->phase == PAKU_OTA_PHASE_INSTALLING || total == 0) {
        return false;
    }
    if (done > total) {
        done = total;
    }
    /* done * 100 cannot overflow: images are bounded far below 2^57. */
    int percent = (int)((done * 100u) / total);
    int decile = percent / 10;
    r->phase = PAKU_OTA_PHASE_DOWNLOADING;
    if (decile <= r->last_decile) {
        return false;
    }
    r->last_decile = decile;
    (void)r->send(r->user, PAKU_OTA_STATUS_DOWNLOADING, decile * 10, NULL);
    return true;
}

bool paku_ota_reporter_installing(paku_ota_reporter_t *r)
{
    if (terminal(r) || r->phase == PAKU_OTA_PHASE_INSTALLING) {
        return false;
    }
    r->phase = PAKU_OTA_PHASE_INSTALLING;
    (void)r->send(r->user, PAKU_OTA_STATUS_INSTALLING, 100, NULL);
    return true;
}

bool paku_ota_reporter_success(paku_ota_reporter_t *r)
{
    if (r->phase != PAKU_OTA_PHASE_INSTALLING) {
        return false; /* success only follows a completed install */
    }
    r->phase = PAKU_OTA_PHASE_SUCCESS;
    (void)r->send(r->user, PAKU_OTA_STATUS_SUCCESS, 100, NULL);
    return true;
}

bool paku_ota_reporter_failed(paku_ota_reporter_t *r, const char *reason)
{
    if (terminal(r)) {
        return false;
    }
    int progress = r->phase == PAKU_OTA_PHASE_INSTALLING ? 100
                   : r->last_decile >= 0                 ? r->last_decile * 10
                                                         : 0;
    r->phase = PAKU_OTA_PHASE_FAILED;
    (void)r->send(r->user, PAKU_OTA_STATUS_FAILED, progress,
                  (reason != NULL && reason[0] != '\0') ? reason : "unknown error");
    return true;
}

/* Appends into a fixed buffer; any overflow sticks in ok. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
    bool ok;
} builder_t;

static void put_char(builder_t *b, char c)
{
    if (b->ok && b->len + 1 < b->size) {
        b->buf[b->len++] = c;
        b->buf[b->len] = '\0';
    } else {
        b->ok = false;
    }
}

static void put_raw(builder_t *b, const char *s)
{
    for (; *s != '\0'; s++) {
        put_char(b, *s);
    }
}

/* JSON string contents, at most max_chars source characters. */
static void put_escaped(builder_t *b, const char *s, size_t max_chars)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; s[i] != '\0' && i < max_chars; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            put_char(b, '\\');
            put_char(b, (char)c);
        } else if (c < 0x20 || c == 0x7F) {
            put_raw(b, "\\u00");
            put_char(b, hex[c >> 4]);
            put_char(b, hex[c & 0x0F]);
        } else {
            put_char(b, (char)c);
        }
    }
}

paku_ota_err_t paku_ota_status_json(const char *device_id, const char *version,
                                    paku_ota_status_t status, int progress,
                                    const char *reason, char *out, size_t out_size)
{
    if (device_id == NULL || version == NULL || out == NULL || out_size == 0) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    if (progress < 0) {
        progress = 0;
    } else if (progress > 100) {
        progress = 100;
    }
    char num[8];
    (void)snprintf(num, sizeof(num), "%d", progress);

    builder_t b = {out, out_size, 0, true};
    out[0] = '\0';
    put_raw(&b, "{\"device_id\":\"");
    put_escaped(&b, device_id, PAKU_OTA_ID_MAX_LEN);
    put_raw(&b, "\",\"firmware_version\":\"");
    put_escaped(&b, version, PAKU_OTA_VERSION_MAX_LEN);
    put_raw(&b, "\",\"status\":\"");
    put_raw(&b, paku_ota_status_name(status));
    put_raw(&b, "\",\"progress_percent\":");
    put_raw(&b, num);
    if (status == PAKU_OTA_STATUS_FAILED) {
        /* Over-long reasons are cut, never dropped: the server needs one. */
        const char *why = (reason != NULL && reason[0] != '\0') ? reason : "unknown error";
        put_raw(&b, ",\"error_message\":\"");
        put_escaped(&b, why, PAKU_OTA_REASON_MAX_LEN - 1);
        put_char(&b, '"');
    }
    put_char(&b, '}');
    if (!b.ok) {
        out[0] = '\0';
        return PAKU_OTA_ERR_BUFFER_TOO_SMALL;
    }
    return PAKU_OTA_OK;
}
