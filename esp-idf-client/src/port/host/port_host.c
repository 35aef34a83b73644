/*
 * Host port (Linux): libcurl + files. Used by the simulator and by anyone who
 * wants to run the real client logic against a real server without hardware.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "paku_ota_port_host.h"

static const char *TAG = "paku_ota_host";

#define DEFAULT_CAPACITY (16ULL * 1024ULL * 1024ULL)
#define PATH_MAX_LEN 1024

/* Everything the state file holds. */
typedef struct {
    char running[PAKU_OTA_VERSION_MAX_LEN + 1];
    char previous[PAKU_OTA_VERSION_MAX_LEN + 1];
    char boot[PAKU_OTA_VERSION_MAX_LEN + 1];
    bool pending_verify;
    paku_ota_persist_t ota;
} host_state_t;

typedef struct {
    paku_ota_port_t port; /* first: the port pointer is the context pointer */
    char state_path[PATH_MAX_LEN];
    char tmp_path[PATH_MAX_LEN];
    char part_path[PATH_MAX_LEN];
    char *factory_version;
    char *client_cert_path;
    char *client_key_path;
    char *ca_cert_path;
    uint64_t capacity;
    uint64_t interrupt_at;
    uint64_t download_seen;
    bool interrupted;
    host_state_t st;
    int part_fd;
    uint64_t cursor;
    uint64_t image_size;
    bool finished;
    CURL *curl;           /* kept between requests: its connection is reused */
    uint64_t connections; /* connections (TLS handshakes) opened so far */
} host_ctx_t;

/* ------------------------------------------------------------------------ */
/* State file                                                                */
/* ------------------------------------------------------------------------ */

static bool parse_u64_str(const char *s, uint64_t *out)
{
    if (*s == '\0') {
        return false;
    }
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return false;
        }
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

static void set_str(char *dst, size_t size, const char *value)
{
    if (!paku_ota_strcpy_checked(dst, size, value)) {
        dst[0] = '\0';
    }
}

static paku_ota_err_t state_read(host_ctx_t *c)
{
    memset(&c->st, 0, sizeof(c->st));
    FILE *f = fopen(c->state_path, "r");
    if (f == NULL) {
        return errno == ENOENT ? PAKU_OTA_OK : PAKU_OTA_ERR_STATE;
    }
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        const char *k = line;
        const char *v = eq + 1;
        uint64_t n = 0;
        if (strcmp(k, "running_version") == 0) {
            set_str(c->st.running, sizeof(c->st.running), v);
        } else if (strcmp(k, "previous_version") == 0) {
            set_str(c->st.previous, sizeof(c->st.previous), v);
        } else if (strcmp(k, "boot_version") == 0) {
            set_str(c->st.boot, sizeof(c->st.boot), v);
        } else if (strcmp(k, "pending_verify") == 0) {
            c->st.pending_verify = strcmp(v, "1") == 0;
        } else if (strcmp(k, "ota_resume_offset") == 0 && parse_u64_str(v, &n)) {
            c->st.ota.resume_offset = n;
        } else if (strcmp(k, "ota_image_size") == 0 && parse_u64_str(v, &n)) {
            c->st.ota.image_size = n;
        } else if (strcmp(k, "ota_target_version") == 0) {
            set_str(c->st.ota.target_version, sizeof(c->st.ota.target_version), v);
        } else if (strcmp(k, "ota_expected_sha256") == 0) {
            set_str(c->st.ota.expected_sha256, sizeof(c->st.ota.expected_sha256), v);
        } else if (strcmp(k, "ota_pending_confirm") == 0) {
            c->st.ota.pending_confirm = strcmp(v, "1") == 0;
        } else if (strcmp(k, "ota_previous_version") == 0) {
            set_str(c->st.ota.previous_version, sizeof(c->st.ota.previous_version), v);
        }
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    return bad ? PAKU_OTA_ERR_STATE : PAKU_OTA_OK;
}

/* Write-to-temp then rename: a crash leaves the old or the new file. */
static paku_ota_err_t state_write(host_ctx_t *c)
{
    FILE *f = fopen(c->tmp_path, "w");
    if (f == NULL) {
        PAKU_OTA_LOGE(TAG, "cannot write %s: %s", c->tmp_path, strerror(errno));
        return PAKU_OTA_ERR_STATE;
    }
    const host_state_t *s = &c->st;
    int n = fprintf(f,
                    "running_version=%s\nprevious_version=%s\nboot_version=%s\n"
                    "pending_verify=%d\nota_resume_offset=%llu\nota_image_size=%llu\n"
                    "ota_target_version=%s\nota_expected_sha256=%s\nota_pending_confirm=%d\n"
                    "ota_previous_version=%s\n",
                    s->running, s->previous, s->boot, s->pending_verify ? 1 : 0,
                    (unsigned long long)s->ota.resume_offset,
                    (unsigned long long)s->ota.image_size, s->ota.target_version,
                    s->ota.expected_sha256, s->ota.pending_confirm ? 1 : 0,
                    s->ota.previous_version);
    bool ok = n > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(c->tmp_path, c->state_path) != 0) {
        PAKU_OTA_LOGE(TAG, "cannot save %s: %s", c->state_path, strerror(errno));
        (void)unlink(c->tmp_path);
        return PAKU_OTA_ERR_STATE;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_state_load(void *ctx, paku_ota_persist_t *st)
{
    host_ctx_t *c = ctx;
    *st = c->st.ota;
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_state_save(void *ctx, const paku_ota_persist_t *st)
{
    host_ctx_t *c = ctx;
    c->st.ota = *st;
    return state_write(c);
}

/* ------------------------------------------------------------------------ */
/* "Boot" state                                                              */
/* ------------------------------------------------------------------------ */

static paku_ota_err_t h_running_version(void *ctx, char *buf, size_t len)
{
    host_ctx_t *c = ctx;
    const char *v = c->st.running[0] != '\0' ? c->st.running : c->factory_version;
    return paku_ota_strcpy_checked(buf, len, v) ? PAKU_OTA_OK : PAKU_OTA_ERR_BUFFER_TOO_SMALL;
}

static paku_ota_err_t h_boot_pending_verify(void *ctx, bool *pending)
{
    *pending = ((host_ctx_t *)ctx)->st.pending_verify;
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_mark_valid(void *ctx)
{
    host_ctx_t *c = ctx;
    c->st.pending_verify = false;
    return state_write(c);
}

static paku_ota_err_t h_mark_invalid_and_reboot(void *ctx)
{
    host_ctx_t *c = ctx;
    if (c->st.previous[0] == '\0') {
        return PAKU_OTA_ERR_NOT_SUPPORTED; /* nothing to roll back to */
    }
    PAKU_OTA_LOGW(TAG, "rollback: rebooting from %s back into %s", c->st.running,
                  c->st.previous);
    memcpy(c->st.running, c->st.previous, sizeof(c->st.running));
    c->st.previous[0] = '\0';
    c->st.pending_verify = false;
    return state_write(c);
}

static void h_restart(void *ctx)
{
    host_ctx_t *c = ctx;
    if (c->st.boot[0] == '\0') {
        PAKU_OTA_LOGI(TAG, "reboot: nothing new to boot");
        return;
    }
    const char *current = c->st.running[0] != '\0' ? c->st.running : c->factory_version;
    PAKU_OTA_LOGI(TAG, "reboot: %s -> %s", current, c->st.boot);
    set_str(c->st.previous, sizeof(c->st.previous), current);
    memcpy(c->st.running, c->st.boot, sizeof(c->st.running));
    c->st.boot[0] = '\0';
    c->st.pending_verify = true;
    (void)state_write(c);
}

/* ------------------------------------------------------------------------ */
/* Partition file                                                            */
/* ------------------------------------------------------------------------ */

static void close_part(host_ctx_t *c)
{
    if (c->part_fd >= 0) {
        close(c->part_fd);
        c->part_fd = -1;
    }
}

static paku_ota_err_t h_part_begin(void *ctx, uint64_t image_size)
{
    host_ctx_t *c = ctx;
    if (image_size == 0 || image_size > c->capacity) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    close_part(c);
    c->finished = false;
    c->part_fd = open(c->part_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (c->part_fd < 0) {
        PAKU_OTA_LOGE(TAG, "cannot open %s: %s", c->part_path, strerror(errno));
        return PAKU_OTA_ERR_PARTITION;
    }
    c->cursor = 0;
    c->image_size = image_size;
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_part_resume(void *ctx, uint64_t image_size, uint64_t *offset)
{
    host_ctx_t *c = ctx;
    if (image_size == 0 || image_size > c->capacity) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    c->finished = false;
    if (c->part_fd < 0) {
        c->part_fd = open(c->part_path, O_RDWR);
        if (c->part_fd < 0) {
            return PAKU_OTA_ERR_NOT_SUPPORTED;
        }
        struct stat sb;
        if (fstat(c->part_fd, &sb) != 0 || sb.st_size < 0) {
            close_part(c);
            return PAKU_OTA_ERR_PARTITION;
        }
        c->cursor = (uint64_t)sb.st_size;
    }
    if (c->cursor < *offset) {
        *offset = c->cursor; /* only what is really there */
    }
    if (ftruncate(c->part_fd, (off_t)*offset) != 0) {
        close_part(c);
        return PAKU_OTA_ERR_PARTITION;
    }
    c->cursor = *offset;
    c->image_size = image_size;
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_part_write(void *ctx, uint64_t offset, const uint8_t *data, size_t len)
{
    host_ctx_t *c = ctx;
    if (c->part_fd < 0 || offset != c->cursor || len > c->image_size - c->cursor) {
        return PAKU_OTA_ERR_PARTITION;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(c->part_fd, data + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return PAKU_OTA_ERR_PARTITION;
        }
        done += (size_t)n;
    }
    c->cursor += len;
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_part_read(void *ctx, uint64_t offset, uint8_t *data, size_t len)
{
    host_ctx_t *c = ctx;
    if (c->part_fd < 0 || offset > c->cursor || len > c->cursor - offset) {
        return PAKU_OTA_ERR_PARTITION;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(c->part_fd, data + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return PAKU_OTA_ERR_PARTITION;
        }
        done += (size_t)n;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t h_part_finish(void *ctx)
{
    host_ctx_t *c = ctx;
    if (c->part_fd < 0 || c->cursor != c->image_size) {
        return PAKU_OTA_ERR_PARTITION;
    }
    bool ok = fsync(c->part_fd) == 0;
    close_part(c);
    c->finished = ok;
    return ok ? PAKU_OTA_OK : PAKU_OTA_ERR_PARTITION;
}

static void h_part_abort(void *ctx)
{
    host_ctx_t *c = ctx;
    close_part(c);
    c->finished = false;
}

static paku_ota_err_t h_part_set_boot(void *ctx, const char *version)
{
    host_ctx_t *c = ctx;
    if (!c->finished || !paku_ota_strcpy_checked(c->st.boot, sizeof(c->st.boot), version)) {
        return PAKU_OTA_ERR_PARTITION;
    }
    c->finished = false;
    return state_write(c);
}

/* ------------------------------------------------------------------------ */
/* HTTP with libcurl                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    host_ctx_t *c;
    const paku_ota_http_request_t *req;
    paku_ota_http_response_t *resp;
    CURL *curl;
    bool headers_delivered;
    bool aborted_by_core;
    bool interrupted_now;
} xfer_t;

static void copy_header_value(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap) {
        n = cap - 1; /* truncated: the core will reject it */
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *buffer, size_t size, size_t nitems, void *userdata)
{
    xfer_t *x = userdata;
    size_t len = size * nitems;
    /* Trim CR/LF. */
    size_t n = len;
    while (n > 0 && (buffer[n - 1] == '\r' || buffer[n - 1] == '\n')) {
        n--;
    }
    if (n >= 5 && memcmp(buffer, "HTTP/", 5) == 0) {
        /* A new response (e.g. after 100 Continue): forget earlier headers. */
        memset(x->resp, 0, sizeof(*x->resp));
        return len;
    }
    const char *colon = memchr(buffer, ':', n);
    if (colon == NULL) {
        return len;
    }
    size_t name_len = (size_t)(colon - buffer);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
        vlen--;
    }
    char name[32];
    if (name_len == 0 || name_len >= sizeof(name)) {
        return len;
    }
    memcpy(name, buffer, name_len);
    name[name_len] = '\0';
    if (paku_ota_str_ieq(name, "Content-Length")) {
        char tmp[32];
        uint64_t cl;
        if (vlen < sizeof(tmp)) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = '\0';
            if (parse_u64_str(tmp, &cl)) {
                x->resp->has_content_length = true;
                x->resp->content_length = cl;
            }
        }
    } else if (paku_ota_str_ieq(name, "Content-Range")) {
        copy_header_value(x->resp->content_range, sizeof(x->resp->content_range), v, vlen);
    } else if (paku_ota_str_ieq(name, "ETag")) {
        copy_header_value(x->resp->etag, sizeof(x->resp->etag), v, vlen);
    } else if (paku_ota_str_ieq(name, "X-Checksum-SHA256")) {
        copy_header_value(x->resp->checksum_sha256, sizeof(x->resp->checksum_sha256), v, vlen);
    } else if (paku_ota_str_ieq(name, "Retry-After")) {
        copy_header_value(x->resp->retry_after, sizeof(x->resp->retry_after), v, vlen);
    } else if (paku_ota_str_ieq(name, "Location")) {
        copy_header_value(x->resp->location, sizeof(x->resp->location), v, vlen);
    }
    return len;
}

static bool deliver_headers(xfer_t *x)
{
    if (x->headers_delivered) {
        return true;
    }
    x->headers_delivered = true;
    long code = 0;
    (void)curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    x->resp->status = (int)code;
    if (x->req->on_headers != NULL && x->req->on_headers(x->req->user, x->resp) != 0) {
        x->aborted_by_core = true;
        return false;
    }
    return true;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer_t *x = userdata;
    size_t len = size * nmemb;
    if (!deliver_headers(x)) {
        return 0;
    }
    host_ctx_t *c = x->c;
    size_t deliver = len;
    bool cut = false;
    if (x->req->kind == PAKU_OTA_REQ_DOWNLOAD && c->interrupt_at > 0 && !c->interrupted) {
        uint64_t left = c->interrupt_at - c->download_seen;
        if ((uint64_t)len >= left) {
            deliver = (size_t)left;
            cut = true;
        }
    }
    if (x->req->kind == PAKU_OTA_REQ_DOWNLOAD) {
        c->download_seen += deliver;
    }
    if (deliver > 0 && x->req->on_body != NULL &&
        x->req->on_body(x->req->user, (const uint8_t *)ptr, deliver) != 0) {
        x->aborted_by_core = true;
        return 0;
    }
    if (cut) {
        c->interrupted = true;
        x->interrupted_now = true;
        PAKU_OTA_LOGW(TAG, "simulating a dropped connection after %llu bytes",
                      (unsigned long long)c->interrupt_at);
        return 0;
    }
    return len;
}

static paku_ota_err_t h_http(void *ctx, const paku_ota_http_request_t *req,
                             paku_ota_http_response_t *resp)
{
    host_ctx_t *c = ctx;
    memset(resp, 0, sizeof(*resp));
    if (c->curl == NULL) {
        c->curl = curl_easy_init();
        if (c->curl == NULL) {
            return PAKU_OTA_ERR_NO_MEM;
        }
    } else {
        curl_easy_reset(c->curl); /* options only: the live connection stays */
    }
    CURL *curl = c->curl;
    xfer_t x = {c, req, resp, curl, false, false, false};
    struct curl_slist *headers = NULL;
    char range[64];
    long timeout_ms = req->timeout_ms > 0 ? (long)req->timeout_ms : 30000L;

    curl_easy_setopt(curl, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "paku-ota-client/1 (host)");
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    /* Downloads may take long; what must not happen is a silent stall. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout_ms >= 2000 ? timeout_ms / 1000 : 2L);
    if (req->kind != PAKU_OTA_REQ_DOWNLOAD) {
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    }
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_cert_path != NULL) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_cert_path);
    }
    if (c->client_cert_path != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, c->client_cert_path);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c->client_key_path != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, c->client_key_path);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (req->has_range) {
        if (req->range_end == UINT64_MAX) {
            (void)snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->range_start);
        } else {
            (void)snprintf(range, sizeof(range), "%llu-%llu",
                           (unsigned long long)req->range_start,
                           (unsigned long long)req->range_end);
        }
        curl_easy_setopt(curl, CURLOPT_RANGE, range);
    }
    bool ok_headers = true;
    if (req->method == PAKU_OTA_HTTP_POST) {
        char ct[96];
        (void)snprintf(ct, sizeof(ct), "Content-Type: %s",
                       req->content_type != NULL ? req->content_type : "application/json");
        struct curl_slist *tmp = curl_slist_append(headers, ct);
        ok_headers = tmp != NULL;
        headers = tmp != NULL ? tmp : headers;
        if (ok_headers) {
            tmp = curl_slist_append(headers, "Expect:");
            ok_headers = tmp != NULL;
            headers = tmp != NULL ? tmp : headers;
        }
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body != NULL ? req->body_len : 0));
    }
    if (headers != NULL) {
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }

    paku_ota_err_t err = PAKU_OTA_OK;
    CURLcode rc = ok_headers ? curl_easy_perform(curl) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK && !deliver_headers(&x)) {
        err = PAKU_OTA_ERR_ABORTED;
    } else if (x.aborted_by_core) {
        err = PAKU_OTA_ERR_ABORTED;
    } else if (x.interrupted_now) {
        err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    } else if (rc != CURLE_OK) {
        PAKU_OTA_LOGW(TAG, "%s: %s", req->url, curl_easy_strerror(rc));
        err = PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    long opened = 0;
    if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0) {
        c->connections += (uint64_t)opened;
    }
    curl_slist_free_all(headers);
    return err;
}

static void h_http_close(void *ctx)
{
    host_ctx_t *c = ctx;
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Time and randomness                                                       */
/* ------------------------------------------------------------------------ */

static void h_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t h_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t h_random_u32(void *ctx)
{
    (void)ctx;
    uint32_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
        v = (uint32_t)h_now_ms(ctx) * 2654435761u;
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

static bool join_path(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size;
}

static int s_curl_users;

paku_ota_err_t paku_ota_port_host_create(const paku_ota_host_config_t *cfg,
                                         paku_ota_port_t **out)
{
    if (cfg == NULL || out == NULL || cfg->state_dir == NULL || cfg->state_dir[0] == '\0' ||
        cfg->factory_version == NULL || !paku_ota_version_is_valid(cfg->factory_version)) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    *out = NULL;
    const char *lvl = getenv("PAKU_OTA_LOG");
    if (lvl != NULL && lvl[0] >= '0' && lvl[0] <= '4' && lvl[1] == '\0') {
        paku_ota_host_log_level = lvl[0] - '0';
    }
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        PAKU_OTA_LOGE(TAG, "cannot create %s: %s", cfg->state_dir, strerror(errno));
        return PAKU_OTA_ERR_STATE;
    }
    host_ctx_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return PAKU_OTA_ERR_NO_MEM;
    }
    c->part_fd = -1;
    if (!join_path(c->state_path, sizeof(c->state_path), cfg->state_dir, "state") ||
        !join_path(c->tmp_path, sizeof(c->tmp_path), cfg->state_dir, "state.tmp") ||
        !join_path(c->part_path, sizeof(c->part_path), cfg->state_dir, "ota-slot.bin")) {
        free(c);
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    c->factory_version = dup_or_null(cfg->factory_version);
    c->client_cert_path = dup_or_null(cfg->client_cert_path);
    c->client_key_path = dup_or_null(cfg->client_key_path);
    c->ca_cert_path = dup_or_null(cfg->ca_cert_path);
    c->capacity = cfg->partition_capacity != 0 ? cfg->partition_capacity : DEFAULT_CAPACITY;
    c->interrupt_at = cfg->interrupt_at;
    paku_ota_err_t err = c->factory_version != NULL ? state_read(c) : PAKU_OTA_ERR_NO_MEM;
    if (err != PAKU_OTA_OK) {
        paku_ota_port_host_destroy(&c->port);
        return err;
    }
    if (s_curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        s_curl_users = 0;
        c->port.ctx = NULL; /* tell destroy not to release curl */
        paku_ota_port_host_destroy(&c->port);
        return PAKU_OTA_ERR_NO_MEM;
    }
    paku_ota_port_t *p = &c->port;
    p->ctx = c;
    p->http = h_http;
    p->http_close = h_http_close;
    p->part_begin = h_part_begin;
    p->part_resume = h_part_resume;
    p->part_write = h_part_write;
    p->part_read = h_part_read;
    p->part_finish = h_part_finish;
    p->part_abort = h_part_abort;
    p->part_set_boot = h_part_set_boot;
    p->state_load = h_state_load;
    p->state_save = h_state_save;
    p->running_version = h_running_version;
    p->boot_pending_verify = h_boot_pending_verify;
    p->mark_valid = h_mark_valid;
    p->mark_invalid_and_reboot = h_mark_invalid_and_reboot;
    p->restart = h_restart;
    p->sleep_ms = h_sleep_ms;
    p->now_ms = h_now_ms;
    p->random_u32 = h_random_u32;
    *out = p;
    return PAKU_OTA_OK;
}

void paku_ota_port_host_destroy(paku_ota_port_t *port)
{
    if (port == NULL) {
        return;
    }
    host_ctx_t *c = (host_ctx_t *)port;
    bool curl_owned = port->ctx != NULL;
    if (curl_owned) {
        h_http_close(c);
    }
    close_part(c);
    free(c->factory_version);
    free(c->client_cert_path);
    free(c->client_key_path);
    free(c->ca_cert_path);
    free(c);
    if (curl_owned && s_curl_users > 0 && --s_curl_users == 0) {
        curl_global_cleanup();
    }
}

uint64_t paku_ota_port_host_connections(const paku_ota_port_t *port)
{
    return port != NULL ? ((const host_ctx_t *)port)->connections : 0;
}

bool paku_ota_port_host_interrupted(const paku_ota_port_t *port)
{
    return port != NULL && ((const host_ctx_t *)port)->interrupted;
}
