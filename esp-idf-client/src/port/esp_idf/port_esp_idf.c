/*
 * ESP-IDF port: esp_http_client (mutual TLS, one kept-alive connection per
 * call of the core), esp_ota_ops on the next update partition, NVS for the
 * persistent state, the bootloader's app-rollback state for confirmation, the
 * anti-rollback eFuse for secure_version. Deliberately thin: every decision
 * lives in the portable core, which the host tests exercise.
 *
 * ESP-IDF v5.0 to v6.0 (compile-checked against each, see the README).
 * Resuming a download after a reboot needs esp_ota_resume() (v5.3.3+ in 5.3,
 * v5.4.2+ in 5.4, v5.5+); on older versions a download interrupted by a
 * reboot starts over, while one interrupted by a dropped connection still
 * resumes (the OTA handle stays open).
 */
/* The Arduino library compiles every source of the core for both Arduino
 * cores; this port is for ESP-IDF underneath (ESP-IDF, arduino-esp32) only. */
#if defined(ESP_PLATFORM)

#include <stdio.h>
#include <string.h>

#include "sdkconfig.h"

#include "esp_app_desc.h"
#include "esp_efuse.h"
#include "esp_err.h"
#include "esp_flash_encrypt.h"
#include "esp_http_client.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs.h"
#include "nvs_flash.h"
#if defined(CONFIG_MBEDTLS_CERTIFICATE_BUNDLE)
#include "esp_crt_bundle.h"
#endif

/* The guarantee that an image which cannot reach the server goes back to the
 * previous one is the bootloader's app rollback. Without it, or with a
 * bootloader configuration that marks every new image valid at start-up, the
 * component would report "confirmed" for images nothing could roll back.
 * ESP-IDF up to v6.0 calls the switch BOOTLOADER_APP_ROLLBACK_ENABLE; later
 * versions call it BOOTLOADER_APP_ROLLBACK and choose between confirming by
 * the app (what this component needs) and confirming on start-up. */
#if !defined(CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE) && !defined(CONFIG_BOOTLOADER_APP_ROLLBACK) && \
    !defined(CONFIG_PAKU_OTA_ALLOW_NO_ROLLBACK)
#error "paku_ota needs the bootloader's app rollback: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (menuconfig: Bootloader config > Enable app rollback support), or CONFIG_PAKU_OTA_ALLOW_NO_ROLLBACK=y to accept updates without rollback"
#endif
#if defined(CONFIG_BOOTLOADER_APP_ROLLBACK_CONFIRM_ON_STARTUP)
#error "paku_ota confirms a new image after it checked in with the server; CONFIG_BOOTLOADER_APP_ROLLBACK_CONFIRM_ON_STARTUP marks every image valid at start-up, before that. Choose CONFIG_BOOTLOADER_APP_ROLLBACK_CONFIRM_BY_APP."
#endif

#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 5, 0) ||                                        \
    (ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 4, 2) &&                                        \
     ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 5, 0)) ||                                        \
    (ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 3) && ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 4, 0))
#define PAKU_OTA_HAVE_OTA_RESUME 1
#endif

#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "paku_ota_port.h"

static const char *TAG = "paku_ota_port";

/* The client's own namespace, in the configured partition (the application's
 * "nvs" by default), which it initialises if needed and never erases. */
/* arduino-esp32 has no Kconfig for libraries: the Kconfig default there. */
#if !defined(CONFIG_PAKU_OTA_NVS_PARTITION)
#define CONFIG_PAKU_OTA_NVS_PARTITION "nvs"
#endif
#define NVS_PARTITION CONFIG_PAKU_OTA_NVS_PARTITION
#define NVS_NAMESPACE "paku_ota"
/* NVS keys: at most 15 characters. */
#define KEY_RESUME "resume_off"
#define KEY_SIZE "image_size"
#define KEY_TARGET "target_ver"
#define KEY_SHA "sha256"
#define KEY_PENDING "pending"
#define KEY_PREVIOUS "prev_ver"

typedef struct {
    const esp_partition_t *part;
    esp_ota_handle_t ota;
    bool open;
    bool finished;
    uint64_t written;
    uint64_t image_size;
    bool nvs_ready;
    esp_http_client_handle_t client; /* the kept-alive connection, or NULL */
    paku_ota_http_response_t *resp;  /* where the current response's headers go */
} esp_ctx_t;

static esp_ctx_t s_ctx;

/* ------------------------------------------------------------------------ */
/* HTTP: one esp_http_client kept between requests (keep-alive), so the check,
 * the download's requests and the status reports of one call share one TLS
 * session. The core closes it when its public call returns.                 */
/* ------------------------------------------------------------------------ */

static bool parse_u64_text(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s < '0' || *s > '9') {
        return false;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return false;
        }
        v = v * 10u + d;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s != '\0') {
        return false;
    }
    *out = v;
    return true;
}

static void copy_header(char *dst, size_t cap, const char *value)
{
    size_t n = paku_ota_strnlen(value, cap - 1);
    memcpy(dst, value, n); /* longer values are cut; the core rejects them */
    dst[n] = '\0';
}

static esp_err_t on_http_event(esp_http_client_event_t *evt)
{
    esp_ctx_t *s = evt->user_data;
    paku_ota_http_response_t *resp = s != NULL ? s->resp : NULL;
    if (evt->event_id != HTTP_EVENT_ON_HEADER || resp == NULL || evt->header_key == NULL ||
        evt->header_value == NULL) {
        return ESP_OK;
    }
    const char *k = evt->header_key;
    const char *v = evt->header_value;
    if (paku_ota_str_ieq(k, "Content-Length")) {
        uint64_t n = 0;
        if (parse_u64_text(v, &n)) {
            resp->has_content_length = true;
            resp->content_length = n;
        }
    } else if (paku_ota_str_ieq(k, "Content-Range")) {
        copy_header(resp->content_range, sizeof(resp->content_range), v);
    } else if (paku_ota_str_ieq(k, "ETag")) {
        copy_header(resp->etag, sizeof(resp->etag), v);
    } else if (paku_ota_str_ieq(k, "X-Checksum-SHA256")) {
        copy_header(resp->checksum_sha256, sizeof(resp->checksum_sha256), v);
    } else if (paku_ota_str_ieq(k, "Retry-After")) {
        copy_header(resp->retry_after, sizeof(resp->retry_after), v);
    } else if (paku_ota_str_ieq(k, "Location")) {
        copy_header(resp->location, sizeof(resp->location), v);
    }
    return ESP_OK;
}

static void e_http_close(void *ctx)
{
    esp_ctx_t *s = ctx;
    if (s->client != NULL) {
        (void)esp_http_client_close(s->client);
        (void)esp_http_client_cleanup(s->client);
        s->client = NULL;
    }
}

/* The TLS material is the configuration's: the same for every request of a
 * handle, so it is set once, when the connection's client is made. */
static esp_http_client_handle_t client_for(esp_ctx_t *s, const paku_ota_http_request_t *req)
{
    if (s->client != NULL) {
        return esp_http_client_set_url(s->client, req->url) == ESP_OK ? s->client : NULL;
    }
    esp_http_client_config_t c = {
        .url = req->url,
        .cert_pem = req->ca_cert_pem,
        .client_cert_pem = req->client_cert_pem,
        .client_key_pem = req->client_key_pem,
        .timeout_ms = (int)req->timeout_ms,
        .disable_auto_redirect = true,
        .event_handler = on_http_event,
        .user_data = s,
        .buffer_size = 2048,
        .buffer_size_tx = 1024,
        .keep_alive_enable = true,
#if defined(CONFIG_MBEDTLS_CERTIFICATE_BUNDLE)
        .crt_bundle_attach = req->use_cert_bundle ? esp_crt_bundle_attach : NULL,
#endif
    };
    s->client = esp_http_client_init(&c);
    return s->client;
}

/* "bytes=START-" or "bytes=START-END", without 64-bit printf. */
static void range_value(const paku_ota_http_request_t *req, char *out, size_t size)
{
    char a[PAKU_OTA_U64_STR_SIZE];
    char b[PAKU_OTA_U64_STR_SIZE];
    (void)snprintf(out, size, "bytes=%s-%s", paku_ota_u64_str(req->range_start, a),
                   req->range_end == UINT64_MAX ? "" : paku_ota_u64_str(req->range_end, b));
}

static void set_request(esp_http_client_handle_t client, const paku_ota_http_request_t *req,
                        char *range, size_t range_size)
{
    bool post = req->method == PAKU_OTA_HTTP_POST;
    (void)esp_http_client_set_method(client, post ? HTTP_METHOD_POST : HTTP_METHOD_GET);
    (void)esp_http_client_set_timeout_ms(client, (int)req->timeout_ms);
    if (req->has_range) {
        range_value(req, range, range_size);
        (void)esp_http_client_set_header(client, "Range", range);
    } else {
        (void)esp_http_client_delete_header(client, "Range");
    }
    if (post) {
        (void)esp_http_client_set_header(client, "Content-Type",
                                         req->content_type != NULL ? req->content_type
                                                                   : "application/json");
    } else {
        (void)esp_http_client_delete_header(client, "Content-Type");
    }
}

/* Send the request line, headers and body; on a kept-alive connection the
 * server may have closed meanwhile, so a failure there reconnects once. */
static paku_ota_err_t send_request(esp_ctx_t *s, const paku_ota_http_request_t *req)
{
    int body_len = req->method == PAKU_OTA_HTTP_POST ? (int)req->body_len : 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        esp_err_t e = esp_http_client_open(s->client, body_len);
        if (e == ESP_OK &&
            (body_len == 0 || esp_http_client_write(s->client, req->body, body_len) == body_len) &&
            esp_http_client_fetch_headers(s->client) >= 0) {
            return PAKU_OTA_OK;
        }
        PAKU_OTA_LOGW(TAG, "request failed (%s)%s", esp_err_to_name(e),
                      attempt == 0 ? "; reconnecting" : "");
        (void)esp_http_client_close(s->client);
    }
    return PAKU_OTA_ERR_HTTP_TRANSPORT;
}

static paku_ota_err_t read_body(esp_ctx_t *s, const paku_ota_http_request_t *req)
{
    for (;;) {
        int n = esp_http_client_read(s->client, (char *)req->buf, (int)req->buf_len);
        if (n < 0) {
            return PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        if (n == 0) {
            /* connection closed early unless the whole body is in */
            return esp_http_client_is_complete_data_received(s->client)
                       ? PAKU_OTA_OK
                       : PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        if (req->on_body != NULL && req->on_body(req->user, req->buf, (size_t)n) != 0) {
            return PAKU_OTA_ERR_ABORTED;
        }
    }
}

static paku_ota_err_t e_http(void *ctx, const paku_ota_http_request_t *req,
                             paku_ota_http_response_t *resp)
{
    esp_ctx_t *s = ctx;
    memset(resp, 0, sizeof(*resp));
    if (req->buf == NULL || req->buf_len == 0 || req->buf_len > INT32_MAX) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    if (client_for(s, req) == NULL) {
        e_http_close(s);
        return PAKU_OTA_ERR_NO_MEM;
    }
    char range[64];
    set_request(s->client, req, range, sizeof(range));
    s->resp = resp;
    paku_ota_err_t err = send_request(s, req);
    if (err == PAKU_OTA_OK) {
        resp->status = esp_http_client_get_status_code(s->client);
        if (req->on_headers != NULL && req->on_headers(req->user, resp) != 0) {
            err = PAKU_OTA_ERR_ABORTED;
        } else {
            err = read_body(s, req);
        }
    }
    s->resp = NULL;
    if (err != PAKU_OTA_OK) {
        /* an unread or broken response leaves the connection unusable */
        (void)esp_http_client_close(s->client);
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Partition                                                                 */
/* ------------------------------------------------------------------------ */

static void close_ota(esp_ctx_t *s)
{
    if (s->open) {
        (void)esp_ota_abort(s->ota);
        s->open = false;
    }
}

static bool flash_encrypted(void)
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(6, 0, 0)
    return esp_efuse_is_flash_encryption_enabled();
#else
    return esp_flash_encryption_enabled();
#endif
}

static paku_ota_err_t e_part_begin(void *ctx, uint64_t image_size)
{
    esp_ctx_t *s = ctx;
    close_ota(s);
    s->finished = false;
    s->part = esp_ota_get_next_update_partition(NULL);
    if (s->part == NULL) {
        PAKU_OTA_LOGE(TAG, "no OTA update partition (partition table needs two OTA slots)");
        return PAKU_OTA_ERR_PARTITION;
    }
    if (image_size == 0 || image_size > s->part->size) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    /* Sectors are erased as writing reaches them, which also makes a later
     * esp_ota_resume() at a sector boundary consistent. */
    esp_err_t e = esp_ota_begin(s->part, OTA_WITH_SEQUENTIAL_WRITES, &s->ota);
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "esp_ota_begin: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_PARTITION;
    }
    s->open = true;
    s->written = 0;
    s->image_size = image_size;
    return PAKU_OTA_OK;
}

static paku_ota_err_t e_part_resume(void *ctx, uint64_t image_size, uint64_t *offset)
{
    esp_ctx_t *s = ctx;
    s->finished = false;
    if (s->open && s->image_size == image_size && s->written <= *offset) {
        /* Same boot, handle still open. With flash encryption esp_ota_write
         * may hold back up to 15 bytes, which read-back would not see. */
        if (s->written % 16u == 0 || !flash_encrypted()) {
            *offset = s->written;
            return PAKU_OTA_OK;
        }
    }
#if defined(PAKU_OTA_HAVE_OTA_RESUME)
    close_ota(s);
    s->part = esp_ota_get_next_update_partition(NULL);
    if (s->part == NULL || image_size == 0 || image_size > s->part->size) {
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    /* Restart at a sector boundary: that sector is erased again before it is
     * rewritten, so a write torn by a power cut cannot survive. */
    uint64_t erase = s->part->erase_size != 0 ? s->part->erase_size : 4096u;
    uint64_t aligned = *offset - (*offset % erase);
    esp_err_t e = esp_ota_resume(s->part, OTA_WITH_SEQUENTIAL_WRITES, (size_t)aligned, &s->ota);
    if (e != ESP_OK) {
        PAKU_OTA_LOGW(TAG, "esp_ota_resume: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    s->open = true;
    s->written = aligned;
    s->image_size = image_size;
    *offset = aligned;
    return PAKU_OTA_OK;
#else
    close_ota(s);
    return PAKU_OTA_ERR_NOT_SUPPORTED;
#endif
}

static paku_ota_err_t e_part_write(void *ctx, uint64_t offset, const uint8_t *data, size_t len)
{
    esp_ctx_t *s = ctx;
    if (!s->open || offset != s->written || len > s->image_size - s->written) {
        return PAKU_OTA_ERR_PARTITION;
    }
    esp_err_t e = esp_ota_write(s->ota, data, len);
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "esp_ota_write: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_PARTITION;
    }
    s->written += len;
    return PAKU_OTA_OK;
}

static paku_ota_err_t e_part_read(void *ctx, uint64_t offset, uint8_t *data, size_t len)
{
    esp_ctx_t *s = ctx;
    if (s->part == NULL || offset > s->written || len > s->written - offset) {
        return PAKU_OTA_ERR_PARTITION;
    }
    esp_err_t e = esp_partition_read(s->part, (size_t)offset, data, len);
    return e == ESP_OK ? PAKU_OTA_OK : PAKU_OTA_ERR_PARTITION;
}

static paku_ota_err_t e_part_finish(void *ctx)
{
    esp_ctx_t *s = ctx;
    if (!s->open || s->written != s->image_size) {
        return PAKU_OTA_ERR_PARTITION;
    }
    s->open = false; /* esp_ota_end frees the handle whatever it returns */
    esp_err_t e = esp_ota_end(s->ota);
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "esp_ota_end: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_PARTITION;
    }
    s->finished = true;
    return PAKU_OTA_OK;
}

static void e_part_abort(void *ctx)
{
    esp_ctx_t *s = ctx;
    close_ota(s);
    s->finished = false;
}

static paku_ota_err_t e_part_set_boot(void *ctx, const char *version)
{
    esp_ctx_t *s = ctx;
    (void)version;
    if (!s->finished || s->part == NULL) {
        return PAKU_OTA_ERR_PARTITION;
    }
    esp_err_t e = esp_ota_set_boot_partition(s->part);
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "esp_ota_set_boot_partition: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_PARTITION;
    }
    s->finished = false;
    return PAKU_OTA_OK;
}

/* ------------------------------------------------------------------------ */
/* NVS state                                                                 */
/* ------------------------------------------------------------------------ */

static paku_ota_err_t nvs_ready(esp_ctx_t *s)
{
    if (s->nvs_ready) {
        return PAKU_OTA_OK;
    }
    /* ESP_OK also when the application initialised it already. */
    esp_err_t e = nvs_flash_init_partition(NVS_PARTITION);
    if (e == ESP_ERR_NVS_NO_FREE_PAGES || e == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Erasing would lose the application's data (Wi-Fi credentials...):
         * that is the application's decision, not this library's. */
        PAKU_OTA_LOGE(TAG, "NVS partition \"%s\" needs erasing (%s); the application must "
                           "erase and initialise it",
                      NVS_PARTITION, esp_err_to_name(e));
        return PAKU_OTA_ERR_STATE;
    }
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "nvs_flash_init_partition(%s): %s", NVS_PARTITION, esp_err_to_name(e));
        return PAKU_OTA_ERR_STATE;
    }
    s->nvs_ready = true;
    return PAKU_OTA_OK;
}

static esp_err_t open_state(nvs_handle_t *nvs)
{
    return nvs_open_from_partition(NVS_PARTITION, NVS_NAMESPACE, NVS_READWRITE, nvs);
}

static void get_str(nvs_handle_t nvs, const char *key, char *out, size_t size)
{
    size_t len = size;
    if (nvs_get_str(nvs, key, out, &len) != ESP_OK) {
        out[0] = '\0';
    }
    out[size - 1] = '\0';
}

static paku_ota_err_t e_state_load(void *ctx, paku_ota_persist_t *st)
{
    esp_ctx_t *s = ctx;
    memset(st, 0, sizeof(*st));
    paku_ota_err_t err = nvs_ready(s);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    nvs_handle_t nvs;
    esp_err_t e = open_state(&nvs);
    if (e != ESP_OK) {
        return PAKU_OTA_ERR_STATE;
    }
    uint64_t u64 = 0;
    uint8_t u8 = 0;
    if (nvs_get_u64(nvs, KEY_RESUME, &u64) == ESP_OK) {
        st->resume_offset = u64;
    }
    if (nvs_get_u64(nvs, KEY_SIZE, &u64) == ESP_OK) {
        st->image_size = u64;
    }
    if (nvs_get_u8(nvs, KEY_PENDING, &u8) == ESP_OK) {
        st->pending_confirm = u8 != 0;
    }
    get_str(nvs, KEY_TARGET, st->target_version, sizeof(st->target_version));
    get_str(nvs, KEY_SHA, st->expected_sha256, sizeof(st->expected_sha256));
    get_str(nvs, KEY_PREVIOUS, st->previous_version, sizeof(st->previous_version));
    nvs_close(nvs);
    return PAKU_OTA_OK;
}

static paku_ota_err_t e_state_save(void *ctx, const paku_ota_persist_t *st)
{
    esp_ctx_t *s = ctx;
    paku_ota_err_t err = nvs_ready(s);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    nvs_handle_t nvs;
    if (open_state(&nvs) != ESP_OK) {
        return PAKU_OTA_ERR_STATE;
    }
    esp_err_t e = nvs_set_u64(nvs, KEY_RESUME, st->resume_offset);
    if (e == ESP_OK) {
        e = nvs_set_u64(nvs, KEY_SIZE, st->image_size);
    }
    if (e == ESP_OK) {
        e = nvs_set_u8(nvs, KEY_PENDING, st->pending_confirm ? 1 : 0);
    }
    if (e == ESP_OK) {
        e = nvs_set_str(nvs, KEY_TARGET, st->target_version);
    }
    if (e == ESP_OK) {
        e = nvs_set_str(nvs, KEY_SHA, st->expected_sha256);
    }
    if (e == ESP_OK) {
        e = nvs_set_str(nvs, KEY_PREVIOUS, st->previous_version);
    }
    if (e == ESP_OK) {
        e = nvs_commit(nvs);
    }
    nvs_close(nvs);
    if (e != ESP_OK) {
        PAKU_OTA_LOGE(TAG, "saving OTA state: %s", esp_err_to_name(e));
        return PAKU_OTA_ERR_STATE;
    }
    return PAKU_OTA_OK;
}

/* ------------------------------------------------------------------------ */
/* Boot state, time, randomness                                              */
/* ------------------------------------------------------------------------ */

static paku_ota_err_t e_running_version(void *ctx, char *buf, size_t len)
{
    (void)ctx;
    const esp_app_desc_t *desc = esp_app_get_description();
    if (desc == NULL) {
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    char v[sizeof(desc->version) + 1];
    memcpy(v, desc->version, sizeof(desc->version));
    v[sizeof(desc->version)] = '\0';
    return paku_ota_strcpy_checked(buf, len, v) ? PAKU_OTA_OK : PAKU_OTA_ERR_BUFFER_TOO_SMALL;
}

static paku_ota_err_t e_running_project(void *ctx, char *buf, size_t len)
{
    (void)ctx;
    const esp_app_desc_t *desc = esp_app_get_description();
    if (desc == NULL || len == 0) {
        return PAKU_OTA_ERR_NOT_SUPPORTED;
    }
    size_t n = paku_ota_strnlen(desc->project_name, sizeof(desc->project_name));
    if (n >= len) {
        return PAKU_OTA_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, desc->project_name, n);
    buf[n] = '\0';
    return PAKU_OTA_OK;
}

#if defined(CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK)
static bool e_secure_version_ok(void *ctx, uint32_t secure_version)
{
    (void)ctx;
    return esp_efuse_check_secure_version(secure_version);
}
#endif

static paku_ota_err_t e_boot_pending_verify(void *ctx, bool *pending)
{
    (void)ctx;
    *pending = false;
    const esp_partition_t *running = esp_ota_get_running_partition();
    esp_ota_img_states_t state;
    if (running != NULL && esp_ota_get_state_partition(running, &state) == ESP_OK) {
        *pending = state == ESP_OTA_IMG_PENDING_VERIFY;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t e_mark_valid(void *ctx)
{
    (void)ctx;
    esp_err_t e = esp_ota_mark_app_valid_cancel_rollback();
    return e == ESP_OK ? PAKU_OTA_OK : PAKU_OTA_ERR_PARTITION;
}

static paku_ota_err_t e_mark_invalid_and_reboot(void *ctx)
{
    (void)ctx;
    esp_err_t e = esp_ota_mark_app_invalid_rollback_and_reboot(); /* returns only on failure */
    PAKU_OTA_LOGE(TAG, "rollback impossible: %s", esp_err_to_name(e));
    return PAKU_OTA_ERR_PARTITION;
}

static void e_restart(void *ctx)
{
    (void)ctx;
    esp_restart();
}

static void e_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    TickType_t ticks = pdMS_TO_TICKS(ms);
    vTaskDelay(ticks > 0 ? ticks : (ms > 0 ? 1 : 0));
}

static uint64_t e_now_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)(esp_timer_get_time() / 1000);
}

static uint32_t e_random_u32(void *ctx)
{
    (void)ctx;
    return esp_random();
}

const paku_ota_port_t *paku_ota_port_esp_idf(void)
{
    static paku_ota_port_t port;
    if (port.http == NULL) {
        port.ctx = &s_ctx;
        port.flags = PAKU_OTA_PORT_TLS_FROM_CONFIG;
#if defined(CONFIG_MBEDTLS_CERTIFICATE_BUNDLE)
        port.flags |= PAKU_OTA_PORT_HAS_CERT_BUNDLE;
#endif
        port.http = e_http;
        port.http_close = e_http_close;
        port.running_project = e_running_project;
#if defined(CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK)
        port.secure_version_ok = e_secure_version_ok;
#endif
        port.part_begin = e_part_begin;
        port.part_resume = e_part_resume;
        port.part_write = e_part_write;
        port.part_read = e_part_read;
        port.part_finish = e_part_finish;
        port.part_abort = e_part_abort;
        port.part_set_boot = e_part_set_boot;
        port.state_load = e_state_load;
        port.state_save = e_state_save;
        port.running_version = e_running_version;
        port.boot_pending_verify = e_boot_pending_verify;
        port.mark_valid = e_mark_valid;
        port.mark_invalid_and_reboot = e_mark_invalid_and_reboot;
        port.restart = e_restart;
        port.sleep_ms = e_sleep_ms;
        port.now_ms = e_now_ms;
        port.random_u32 = e_random_u32;
    }
    return &port;
}

#endif /* ESP_PLATFORM */
