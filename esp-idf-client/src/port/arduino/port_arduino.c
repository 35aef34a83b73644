/*
 * The Arduino port table (see paku_ota_port_arduino.h): the image through an
 * append-only Updater, the state in a small restart-proof store, time and
 * restart from the core. HTTP is in http1.c.
 *
 * What the ESP8266 can and cannot do, and so what this port promises:
 *  - Resume within a session: the Updater stays open across a dropped
 *    connection, so the core continues at the byte it has written (keeping
 *    its running hash). The Updater cannot seek or read back, so a resume at
 *    any other byte, or after a restart (the Updater's RAM is gone), starts
 *    the image over.
 *  - No bootloader rollback: eboot copies the new image over the old one at
 *    the next boot. A new image is "confirmed" by its first check-in, which
 *    the server counts; one that never checks in stays on the device and the
 *    server sees the attempt time out. mark_invalid_and_reboot cannot undo
 *    anything and says so (PAKU_OTA_ERR_NOT_SUPPORTED).
 */
/* For cores without ESP-IDF (ESP8266); arduino-esp32 uses the ESP-IDF port. */
#if !defined(ESP_PLATFORM)

#include <string.h>

#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "paku_ota_port_arduino.h"

static const char *TAG = "paku_ota_port";

/* ---- the image ------------------------------------------------------------ */

static paku_ota_err_t a_part_begin(void *ctx, uint64_t image_size)
{
    paku_ota_arduino_port_t *p = ctx;
    if (p->img_open) {
        p->flash.abort(p->flash.ctx);
        p->img_open = false;
    }
    if (image_size == 0 || image_size > UINT32_MAX) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    paku_ota_err_t err = p->flash.begin(p->flash.ctx, (uint32_t)image_size);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    p->img_open = true;
    p->img_size = (uint32_t)image_size;
    p->img_written = 0;
    return PAKU_OTA_OK;
}

/* Only the open image, at exactly the byte written: the Updater appends. */
static paku_ota_err_t a_part_resume(void *ctx, uint64_t image_size, uint64_t *offset)
{
    paku_ota_arduino_port_t *p = ctx;
    if (!p->img_open || p->img_size != image_size || *offset != p->img_written) {
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t a_part_write(void *ctx, uint64_t offset, const uint8_t *data, size_t len)
{
    paku_ota_arduino_port_t *p = ctx;
    if (!p->img_open || offset != p->img_written || len > p->img_size - p->img_written) {
        return PAKU_OTA_ERR_PARTITION;
    }
    paku_ota_err_t err = p->flash.write(p->flash.ctx, data, len);
    if (err != PAKU_OTA_OK) {
        return PAKU_OTA_ERR_PARTITION;
    }
    p->img_written += (uint32_t)len;
    return PAKU_OTA_OK;
}

static paku_ota_err_t a_part_read(void *ctx, uint64_t offset, uint8_t *data, size_t len)
{
    (void)ctx;
    (void)offset;
    (void)data;
    (void)len;
    return PAKU_OTA_ERR_NOT_SUPPORTED; /* the Updater has no read-back */
}

static paku_ota_err_t a_part_finish(void *ctx)
{
    paku_ota_arduino_port_t *p = ctx;
    if (!p->img_open || p->img_written != p->img_size) {
        return PAKU_OTA_ERR_PARTITION;
    }
    p->img_open = false;
    return p->flash.finish(p->flash.ctx) == PAKU_OTA_OK ? PAKU_OTA_OK : PAKU_OTA_ERR_PARTITION;
}

static void a_part_abort(void *ctx)
{
    paku_ota_arduino_port_t *p = ctx;
    if (p->img_open) {
        p->flash.abort(p->flash.ctx);
    }
    p->img_open = false;
    p->img_written = 0;
}

/* The finished image is already armed (Update.end wrote eboot's command). */
static paku_ota_err_t a_part_set_boot(void *ctx, const char *version)
{
    (void)ctx;
    PAKU_OTA_LOGI(TAG, "%s is copied over the running image at the next boot", version);
    return PAKU_OTA_OK;
}

/* ---- the state record ----------------------------------------------------- */

#define STATE_MAGIC 0x50414B55u /* "PAKU" */
#define STATE_FORMAT 1u

/* What the store holds: the persistent state with a check that it is ours
 * and whole (RTC memory holds garbage after a power-up). */
typedef struct {
    uint32_t magic;
    uint32_t format;
    paku_ota_persist_t st;
    uint32_t crc;
} state_record_t;

size_t paku_ota_port_arduino_state_size(void)
{
    return (sizeof(state_record_t) + 3u) & ~(size_t)3u;
}

static uint32_t crc32_of(const void *data, size_t len)
{
    const uint8_t *b = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* The record is static: ~360 bytes are too many for a task's stack, and the
 * port is used by one task at a time (paku_ota.h). */
static state_record_t s_record;

static paku_ota_err_t a_state_load(void *ctx, paku_ota_persist_t *st)
{
    paku_ota_arduino_port_t *p = ctx;
    memset(st, 0, sizeof(*st));
    if (p->store.size < sizeof(s_record) ||
        !p->store.load(p->store.ctx, &s_record, sizeof(s_record))) {
        return PAKU_OTA_ERR_STATE;
    }
    if (s_record.magic != STATE_MAGIC || s_record.format != STATE_FORMAT ||
        s_record.crc != crc32_of(&s_record, offsetof(state_record_t, crc))) {
        return PAKU_OTA_OK; /* nothing saved yet: all zero */
    }
    *st = s_record.st;
    st->target_version[sizeof(st->target_version) - 1] = '\0';
    st->expected_sha256[sizeof(st->expected_sha256) - 1] = '\0';
    st->previous_version[sizeof(st->previous_version) - 1] = '\0';
    return PAKU_OTA_OK;
}

static paku_ota_err_t a_state_save(void *ctx, const paku_ota_persist_t *st)
{
    paku_ota_arduino_port_t *p = ctx;
    if (p->store.size < sizeof(s_record)) {
        return PAKU_OTA_ERR_STATE;
    }
    memset(&s_record, 0, sizeof(s_record));
    s_record.magic = STATE_MAGIC;
    s_record.format = STATE_FORMAT;
    s_record.st = *st;
    s_record.crc = crc32_of(&s_record, offsetof(state_record_t, crc));
    return p->store.save(p->store.ctx, &s_record, sizeof(s_record)) ? PAKU_OTA_OK
                                                                     : PAKU_OTA_ERR_STATE;
}

/* ---- the device ----------------------------------------------------------- */

static paku_ota_err_t a_running_version(void *ctx, char *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    /* No image description on the ESP8266: the sketch states its version
     * (PakuOtaConfig::firmwareVersion, the core's config.running_version). */
    return PAKU_OTA_ERR_CONFIG;
}

static paku_ota_err_t a_boot_pending_verify(void *ctx, bool *pending)
{
    (void)ctx;
    *pending = false; /* no bootloader state: the core's own record decides */
    return PAKU_OTA_OK;
}

static paku_ota_err_t a_mark_valid(void *ctx)
{
    (void)ctx;
    return PAKU_OTA_OK; /* the check-in itself confirmed it on the server */
}

static paku_ota_err_t a_mark_invalid_and_reboot(void *ctx)
{
    (void)ctx;
    PAKU_OTA_LOGE(TAG, "no rollback on the ESP8266: the new image stays and keeps trying to "
                       "check in");
    return PAKU_OTA_ERR_NOT_SUPPORTED;
}

static void a_restart(void *ctx)
{
    paku_ota_arduino_port_t *p = ctx;
    paku_ota_arduino_http_close(p);
    p->sys.restart(p->sys.ctx);
}

static void a_sleep_ms(void *ctx, uint32_t ms)
{
    paku_ota_arduino_port_t *p = ctx;
    p->sys.delay(p->sys.ctx, ms);
}

/* millis() wraps after 49.7 days; the core wants a monotonic 64-bit clock. */
static uint64_t a_now_ms(void *ctx)
{
    paku_ota_arduino_port_t *p = ctx;
    uint32_t now = p->sys.millis(p->sys.ctx);
    if (now < p->last_millis) {
        p->millis_high += (uint64_t)1 << 32;
    }
    p->last_millis = now;
    return p->millis_high | now;
}

static uint32_t a_random_u32(void *ctx)
{
    paku_ota_arduino_port_t *p = ctx;
    return p->sys.random(p->sys.ctx);
}

const paku_ota_port_t *paku_ota_port_arduino_init(paku_ota_arduino_port_t *p,
                                                  const paku_ota_transport_t *net,
                                                  const paku_ota_flasher_t *flash,
                                                  const paku_ota_store_t *store,
                                                  const paku_ota_system_t *sys)
{
    memset(p, 0, sizeof(*p));
    p->net = *net;
    p->flash = *flash;
    p->store = *store;
    p->sys = *sys;
    paku_ota_port_t *t = &p->port;
    t->ctx = p;
    t->flags = PAKU_OTA_PORT_TLS_FROM_CONFIG;
    t->http = paku_ota_arduino_http;
    t->http_close = paku_ota_arduino_http_close;
    t->part_begin = a_part_begin;
    t->part_resume = a_part_resume;
    t->part_write = a_part_write;
    t->part_read = a_part_read;
    t->part_finish = a_part_finish;
    t->part_abort = a_part_abort;
    t->part_set_boot = a_part_set_boot;
    t->state_load = a_state_load;
    t->state_save = a_state_save;
    t->running_version = a_running_version;
    t->boot_pending_verify = a_boot_pending_verify;
    t->mark_valid = a_mark_valid;
    t->mark_invalid_and_reboot = a_mark_invalid_and_reboot;
    t->restart = a_restart;
    t->sleep_ms = a_sleep_ms;
    t->now_ms = a_now_ms;
    t->random_u32 = a_random_u32;
    return t;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int paku_ota_port_arduino_unused_t;
#endif /* !ESP_PLATFORM */
