/*
 * The Arduino port (src/port/arduino) on the host: its HTTP/1.1 over a fake
 * transport that plays a Paku server byte by byte, its Updater handling over
 * a fake append-only flasher, its state record in a fake RTC store, and the
 * loop() schedule — and the whole client through it, as the ESP8266 runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "paku_ota_port_arduino.h"
#include "test_util.h"

#define IMAGE_LEN 70000u
#define OUT_MAX (IMAGE_LEN + 4096u)

/* ---- the fake server behind the transport ---------------------------------- */

typedef struct {
    /* what the client wrote since the last response */
    char req[4096];
    size_t req_len;
    /* the response being read */
    uint8_t out[OUT_MAX];
    size_t out_len;
    size_t out_pos;
    size_t read_max;      /* bytes per read() at most (small: split everything) */
    bool open;
    bool closing;         /* peer closes after this response */
    int connects;
    int requests;
    /* scripted behaviour */
    const char *raw_reply;   /* when set: the next response, verbatim */
    bool raw_then_close;     /* ... after which the server closes */
    bool chunked_check;      /* the check response in chunks */
    size_t drop_download_at; /* cut the first download after this many body bytes */
    bool dropped;
    bool ignore_range;
    char last_range[64];
    char last_request_line[256];
    int status_posts;
    bool down;             /* no network: connect fails */
    int downloads;
    char download_ranges[4][64];
    char last_status[64];
    /* the release */
    uint8_t image[IMAGE_LEN];
    char sha[65];
    const char *offer_version; /* NULL: up to date */
    uint32_t next_check;
} server_t;

static void out_printf(server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(server_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)s->out + s->out_len, OUT_MAX - s->out_len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < OUT_MAX - s->out_len);
    s->out_len += (size_t)n;
}

static void out_bytes(server_t *s, const uint8_t *d, size_t n)
{
    assert_true(n <= OUT_MAX - s->out_len);
    memcpy(s->out + s->out_len, d, n);
    s->out_len += n;
}

static void reply_check(server_t *s)
{
    char body[1024];
    if (s->offer_version == NULL) {
        snprintf(body, sizeof(body), "{\"update_available\":false,\"next_check_seconds\":%u}",
                 (unsigned)s->next_check);
    } else {
        snprintf(body, sizeof(body),
                 "{\"update_available\":true,\"latest_version\":\"%s\","
                 "\"download_url\":\"/api/firmware/download/%s?device_model=esp8266\","
                 "\"checksum_sha256\":\"%s\",\"size_bytes\":%u,\"signature\":null,"
                 "\"signature_algorithm\":null,\"next_check_seconds\":%u}",
                 s->offer_version, s->offer_version, s->sha, IMAGE_LEN, (unsigned)s->next_check);
    }
    size_t n = strlen(body);
    if (!s->chunked_check) {
        out_printf(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu"
                      "\r\n\r\n%s", n, body);
        return;
    }
    /* Kestrel-style: chunked, here in three chunks with an extension and a
     * trailer to exercise the parser */
    out_printf(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t a = n / 3;
    out_printf(s, "%zx;ext=1\r\n%.*s\r\n", a, (int)a, body);
    out_printf(s, "%zX\r\n%.*s\r\n", n - a, (int)(n - a), body + a);
    out_printf(s, "0\r\nX-Trailer: t\r\n\r\n");
}

static void reply_download(server_t *s, const char *range)
{
    size_t from = 0;
    if (range != NULL && !s->ignore_range) {
        assert_int_equal(sscanf(range, "bytes=%zu-", &from), 1);
        out_printf(s, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %zu-%u/%u\r\n",
                   from, IMAGE_LEN - 1, IMAGE_LEN);
    } else {
        out_printf(s, "HTTP/1.1 200 OK\r\n");
    }
    out_printf(s, "Content-Length: %zu\r\nETag: \"%s\"\r\nX-Checksum-SHA256: %s\r\n"
                  "Accept-Ranges: bytes\r\n\r\n",
               (size_t)IMAGE_LEN - from, s->sha, s->sha);
    size_t n = IMAGE_LEN - from;
    if (s->drop_download_at > 0 && !s->dropped) {
        n = s->drop_download_at;
        s->dropped = true;
        s->closing = true;
    }
    out_bytes(s, s->image + from, n);
}

/* A whole request is in s->req: answer it. */
static void serve(server_t *s)
{
    char *line_end = strstr(s->req, "\r\n");
    assert_non_null(line_end);
    snprintf(s->last_request_line, sizeof(s->last_request_line), "%.*s",
             (int)(line_end - s->req), s->req);
    char *range = strstr(s->req, "\r\nRange: ");
    s->last_range[0] = '\0';
    if (range != NULL) {
        sscanf(range + 9, "%63[^\r]", s->last_range);
    }
    s->requests++;
    s->out_len = 0;
    s->out_pos = 0;
    if (s->raw_reply != NULL) {
        out_printf(s, "%s", s->raw_reply);
        s->raw_reply = NULL;
        s->closing = s->raw_then_close;
        s->raw_then_close = false;
    } else if (strncmp(s->req, "GET /api/firmware/check?", 24) == 0) {
        reply_check(s);
    } else if (strncmp(s->req, "GET /api/firmware/download/", 27) == 0) {
        if (s->downloads < 4) {
            snprintf(s->download_ranges[s->downloads], 64, "%s", s->last_range);
        }
        s->downloads++;
        reply_download(s, range != NULL ? s->last_range : NULL);
    } else if (strncmp(s->req, "POST /api/device/", 17) == 0) {
        s->status_posts++;
        char *st = strstr(s->req, "\"status\":\"");
        assert_non_null(st);
        sscanf(st + 10, "%63[^\"]", s->last_status);
        out_printf(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    } else {
        out_printf(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
    s->req_len = 0;
}

/* Whether s->req holds a complete request (head and Content-Length body). */
static bool request_complete(const server_t *s)
{
    const char *end = strstr(s->req, "\r\n\r\n");
    if (end == NULL) {
        return false;
    }
    size_t head = (size_t)(end - s->req) + 4;
    const char *cl = strstr(s->req, "Content-Length: ");
    size_t body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
    return s->req_len >= head + body;
}

static int t_connect(void *ctx, const char *host, uint16_t port, bool tls, uint32_t timeout)
{
    server_t *s = ctx;
    (void)timeout;
    if (s->down) {
        return -1;
    }
    assert_string_equal(host, "ota.example.com");
    assert_int_equal(port, 8443);
    assert_true(tls);
    s->open = true;
    s->closing = false;
    s->connects++;
    s->req_len = 0;
    s->out_len = s->out_pos = 0;
    return 0;
}

static bool t_connected(void *ctx)
{
    server_t *s = ctx;
    return s->open && !(s->closing && s->out_pos == s->out_len);
}

static size_t t_write(void *ctx, const uint8_t *data, size_t n)
{
    server_t *s = ctx;
    if (!t_connected(s) || n >= sizeof(s->req) - s->req_len) {
        return 0;
    }
    memcpy(s->req + s->req_len, data, n);
    s->req_len += n;
    s->req[s->req_len] = '\0';
    if (request_complete(s)) {
        serve(s);
    }
    return n;
}

static int t_read(void *ctx, uint8_t *data, size_t n, uint32_t timeout)
{
    server_t *s = ctx;
    (void)timeout;
    if (!s->open) {
        return -1;
    }
    if (s->out_pos == s->out_len) {
        return s->closing ? -1 : 0; /* closed, or nothing more: a timeout */
    }
    size_t k = s->out_len - s->out_pos;
    k = k < n ? k : n;
    k = k < s->read_max ? k : s->read_max;
    memcpy(data, s->out + s->out_pos, k);
    s->out_pos += k;
    return (int)k;
}

static void t_stop(void *ctx)
{
    server_t *s = ctx;
    s->open = false;
}

/* ---- fake Updater, RTC store, system ---------------------------------------- */

typedef struct {
    uint8_t flash[IMAGE_LEN];
    uint32_t size;
    uint32_t written;
    bool running;
    bool armed; /* Update.end succeeded: copied at the next boot */
    int begins;
    uint8_t rtc[512];
    uint32_t now;
    uint32_t slept;
    int restarts;
} device_t;

static paku_ota_err_t u_begin(void *ctx, uint32_t size)
{
    device_t *d = ctx;
    if (size > sizeof(d->flash)) {
        return PAKU_OTA_ERR_IMAGE_TOO_LARGE;
    }
    d->size = size;
    d->written = 0;
    d->running = true;
    d->begins++;
    return PAKU_OTA_OK;
}

static paku_ota_err_t u_write(void *ctx, const uint8_t *data, size_t len)
{
    device_t *d = ctx;
    assert_true(d->running);
    assert_true(d->written + len <= d->size);
    memcpy(d->flash + d->written, data, len);
    d->written += (uint32_t)len;
    return PAKU_OTA_OK;
}

static paku_ota_err_t u_finish(void *ctx)
{
    device_t *d = ctx;
    if (!d->running || d->written != d->size) {
        return PAKU_OTA_ERR_PARTITION;
    }
    d->running = false;
    d->armed = true;
    /* Update.end() writes eboot's command into the first 128 bytes of RTC
     * user memory */
    memset(d->rtc, 0xEB, 4 * PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK);
    return PAKU_OTA_OK;
}

static void u_abort(void *ctx)
{
    device_t *d = ctx;
    d->running = false;
}

/* The store as PakuOtaEsp8266.cpp binds it: RTC user memory after eboot's
 * command. */
#define RTC_STATE_AT (4 * PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK)

static bool r_load(void *ctx, void *data, size_t len)
{
    device_t *d = ctx;
    assert_true(RTC_STATE_AT + len <= sizeof(d->rtc));
    memcpy(data, d->rtc + RTC_STATE_AT, len);
    return true;
}

static bool r_save(void *ctx, const void *data, size_t len)
{
    device_t *d = ctx;
    assert_true(RTC_STATE_AT + len <= sizeof(d->rtc) && len % 4 == 0);
    memcpy(d->rtc + RTC_STATE_AT, data, len);
    return true;
}

static uint32_t s_millis(void *ctx)
{
    return ((device_t *)ctx)->now;
}

static void s_delay(void *ctx, uint32_t ms)
{
    device_t *d = ctx;
    d->now += ms;
    d->slept += ms;
}

static uint32_t s_random(void *ctx)
{
    (void)ctx;
    return 12345u;
}

static void s_restart(void *ctx)
{
    ((device_t *)ctx)->restarts++;
}

/* ---- fixture ------------------------------------------------------------------- */

typedef struct {
    server_t srv;
    device_t dev;
    paku_ota_arduino_port_t port;
    paku_ota_config_t cfg;
    paku_ota_handle_t h;
    const char *running;
} fx_t;

static void boot(fx_t *x, const char *running)
{
    const paku_ota_transport_t net = {&x->srv, t_connect, t_connected, t_write, t_read, t_stop};
    const paku_ota_flasher_t flash = {&x->dev, u_begin, u_write, u_finish, u_abort};
    const paku_ota_store_t store = {&x->dev, sizeof(x->dev.rtc) - RTC_STATE_AT, r_load, r_save};
    const paku_ota_system_t sys = {&x->dev, s_millis, s_delay, s_random, s_restart};
    if (x->h != NULL) {
        paku_ota_destroy(x->h);
        x->h = NULL;
    }
    x->dev.running = false; /* the Updater's RAM does not survive a restart */
    x->srv.open = false;
    x->running = running;
    const paku_ota_port_t *port = paku_ota_port_arduino_init(&x->port, &net, &flash, &store, &sys);
    paku_ota_config_default(&x->cfg);
    x->cfg.server_url = "https://ota.example.com:8443";
    x->cfg.device_id = "esp8266-01";
    x->cfg.device_model = "esp8266";
    x->cfg.running_version = x->running;
    x->cfg.ca_cert_pem = "(the BearSSL client holds it)";
    x->cfg.buffer_size = 1024;
    x->cfg.max_response_size = 4096;
    x->cfg.retry_base_ms = 100;
    assert_int_equal(paku_ota_create(&x->cfg, port, &x->h), PAKU_OTA_OK);
}

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    uint32_t v = 0x12345678u;
    for (size_t i = 0; i < IMAGE_LEN; i++) {
        v = v * 1103515245u + 12345u;
        x->srv.image[i] = (uint8_t)(v >> 16);
    }
    uint8_t digest[32];
    paku_ota_sha256_t *sha = paku_ota_sha256_new();
    assert_non_null(sha);
    assert_int_equal(paku_ota_sha256_start(sha), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_update(sha, x->srv.image, IMAGE_LEN), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_finish(sha, digest), PAKU_OTA_OK);
    paku_ota_sha256_free(sha);
    paku_ota_hex_encode(digest, 32, x->srv.sha);
    x->srv.read_max = 1460; /* a TCP segment */
    x->srv.next_check = 600;
    memset(x->dev.rtc, 0xA5, sizeof(x->dev.rtc)); /* RTC memory after power-up */
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    paku_ota_destroy(x->h);
    free(x);
    return 0;
}

/* One request straight through the port table, body collected. */
typedef struct {
    char body[4096];
    size_t len;
    int abort_at_headers;
} sink_t;

static int sink_headers(void *user, const paku_ota_http_response_t *resp)
{
    (void)resp;
    return ((sink_t *)user)->abort_at_headers;
}

static int sink_body(void *user, const uint8_t *data, size_t len)
{
    sink_t *k = user;
    assert_true(k->len + len < sizeof(k->body));
    memcpy(k->body + k->len, data, len);
    k->len += len;
    k->body[k->len] = '\0';
    return 0;
}

static paku_ota_err_t get(fx_t *x, const char *url, sink_t *k, paku_ota_http_response_t *resp)
{
    static uint8_t buf[1024];
    paku_ota_http_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = PAKU_OTA_HTTP_GET;
    req.url = url;
    req.buf = buf;
    req.buf_len = sizeof(buf);
    req.timeout_ms = 1000;
    req.on_headers = sink_headers;
    req.on_body = sink_body;
    req.user = k;
    memset(k->body, 0, sizeof(k->body));
    k->len = 0;
    return x->port.port.http(x->port.port.ctx, &req, resp);
}

#define CHECK_URL "https://ota.example.com:8443/api/firmware/check?device_id=a"

/* ---- HTTP ------------------------------------------------------------------------ */

static void chunked_and_sized_bodies_share_one_kept_alive_connection(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    x->srv.read_max = 3; /* every line and chunk split across reads */
    x->srv.offer_version = "1.1.0";
    x->srv.chunked_check = true;
    sink_t k = {.len = 0};
    paku_ota_http_response_t resp;
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(k.body, "\"size_bytes\":70000,"));
    assert_int_equal(k.body[0], '{');
    assert_int_equal(k.body[k.len - 1], '}');
    x->srv.chunked_check = false;
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_OK);
    assert_true(resp.has_content_length);
    assert_int_equal(resp.content_length, k.len);
    assert_int_equal(x->srv.connects, 1);
    assert_int_equal(x->port.handshakes, 1);
    assert_string_equal(x->srv.last_request_line,
                        "GET /api/firmware/check?device_id=a HTTP/1.1");
}

static void range_request_and_download_headers_reach_the_core(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    sink_t k = {.len = 0};
    paku_ota_http_response_t resp;
    static uint8_t buf[1024];
    paku_ota_http_request_t req;
    memset(&req, 0, sizeof(req));
    req.url = "https://ota.example.com:8443/api/firmware/download/1.1.0";
    req.has_range = true;
    req.range_start = 69000;
    req.range_end = UINT64_MAX;
    req.buf = buf;
    req.buf_len = sizeof(buf);
    req.on_body = sink_body;
    req.user = &k;
    k.len = 0;
    assert_int_equal(x->port.port.http(x->port.port.ctx, &req, &resp), PAKU_OTA_OK);
    assert_string_equal(x->srv.last_range, "bytes=69000-");
    assert_int_equal(resp.status, 206);
    assert_string_equal(resp.content_range, "bytes 69000-69999/70000");
    assert_int_equal(resp.content_length, 1000);
    assert_int_equal(k.len, 1000);
    assert_memory_equal(k.body, x->srv.image + 69000, 1000);
    assert_int_equal(resp.etag[0], '"');
    assert_string_equal(resp.checksum_sha256, x->srv.sha);
}

static void close_abort_and_truncation_end_the_connection(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    sink_t k = {.len = 0};
    paku_ota_http_response_t resp;
    /* Connection: close is honoured: the next request connects again */
    x->srv.raw_reply = "HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nConnection: close\r\n"
                       "Content-Length: 4\r\n\r\nbusy";
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_OK);
    assert_int_equal(resp.status, 503);
    assert_string_equal(resp.retry_after, "30");
    assert_string_equal(k.body, "busy");
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_OK);
    assert_int_equal(x->srv.connects, 2);
    /* a callback stopping the transfer: ABORTED, and the connection is dropped */
    k.abort_at_headers = PAKU_OTA_ERR_RESPONSE_MISMATCH;
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_ERR_ABORTED);
    assert_false(x->port.conn_open);
    k.abort_at_headers = 0;
    /* a body shorter than its Content-Length: a transport failure */
    x->srv.raw_reply = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    x->srv.raw_then_close = true;
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_ERR_HTTP_TRANSPORT);
    assert_false(x->port.conn_open);
    /* not HTTP at all */
    x->srv.raw_reply = "SSH-2.0-OpenSSH\r\n\r\n";
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_ERR_HTTP_TRANSPORT);
    /* a body without length on HTTP/1.0: read to the close, then reconnect */
    int before = x->srv.connects;
    x->srv.raw_reply = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    x->srv.raw_then_close = true;
    assert_int_equal(get(x, CHECK_URL, &k, &resp), PAKU_OTA_OK);
    assert_string_equal(k.body, "until close");
    assert_false(x->port.conn_open);
    assert_int_equal(x->srv.connects, before + 1);
}

/* ---- the whole client through the port ------------------------------------------------ */

static void update_resumes_within_the_session_and_is_confirmed_after_the_restart(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    x->srv.offer_version = "1.1.0";
    x->srv.drop_download_at = 30000;
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    /* the drop was resumed with a Range on a new connection, in the same
     * Updater session: one begin, nothing read back, the image whole */
    assert_int_equal(r.resumed_at, 30000);
    assert_int_equal(x->srv.downloads, 2);
    assert_string_equal(x->srv.download_ranges[0], "");
    assert_string_equal(x->srv.download_ranges[1], "bytes=30000-");
    assert_int_equal(x->dev.begins, 1);
    assert_true(x->dev.armed);
    assert_memory_equal(x->dev.flash, x->srv.image, IMAGE_LEN);
    assert_int_equal(x->srv.connects, 2);
    assert_string_equal(x->srv.last_status, "success");

    /* the record fits RTC user memory after eboot's command */
    assert_true(RTC_STATE_AT + paku_ota_port_arduino_state_size() <= 512);
    /* restart: eboot has copied the image; the RTC record says it is pending */
    x->srv.offer_version = NULL;
    boot(x, "1.1.0");
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_CONFIRMED);
    assert_non_null(strstr(x->srv.last_request_line, "current_version=1.1.0"));
    paku_ota_persist_t st;
    assert_int_equal(x->port.port.state_load(x->port.port.ctx, &st), PAKU_OTA_OK);
    assert_false(st.pending_confirm);
}

static void a_restart_mid_download_starts_the_image_over(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    x->srv.offer_version = "1.1.0";
    x->srv.drop_download_at = 30000;
    x->cfg.max_attempts = 1; /* give up after the drop: the device restarts */
    paku_ota_destroy(x->h);
    assert_int_equal(paku_ota_create(&x->cfg, &x->port.port, &x->h), PAKU_OTA_OK);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_HTTP_TRANSPORT);
    paku_ota_persist_t st;
    assert_int_equal(x->port.port.state_load(x->port.port.ctx, &st), PAKU_OTA_OK);
    assert_int_equal(st.resume_offset, 30000); /* kept in RTC memory... */

    boot(x, "1.0.0");
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    /* ...but the Updater cannot continue it: a new image from byte 0 */
    assert_int_equal(r.resumed_at, 0);
    assert_int_equal(x->dev.begins, 2);
    assert_memory_equal(x->dev.flash, x->srv.image, IMAGE_LEN);
}

static void no_rollback_on_this_port_the_image_keeps_trying_to_check_in(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    x->srv.offer_version = "1.1.0";
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    x->srv.offer_version = NULL;
    boot(x, "1.1.0");
    x->srv.down = true;
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_ERR_CONFIRM_FAILED);
    /* nothing to roll back to: no restart, still waiting for its check-in */
    assert_int_equal(x->dev.restarts, 0);
    paku_ota_persist_t st;
    assert_int_equal(x->port.port.state_load(x->port.port.ctx, &st), PAKU_OTA_OK);
    assert_true(st.pending_confirm);
    assert_int_equal(x->srv.status_posts, 4); /* downloading 0, 100, installing, success */
    /* the network comes back: the next call checks in and confirms */
    x->srv.down = false;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->port.port.state_load(x->port.port.ctx, &st), PAKU_OTA_OK);
    assert_false(st.pending_confirm);
    assert_int_equal(x->srv.status_posts, 4); /* no "failed": it was never rolled back */
}

/* ---- loop() ---------------------------------------------------------------------- */

static void loop_checks_only_when_due_and_restarts_after_an_update(void **state)
{
    fx_t *x = *state;
    boot(x, "1.0.0");
    x->srv.next_check = 600;
    paku_ota_loop_t l;
    paku_ota_loop_init(&l, x->h, true);
    x->dev.now = 0xFFFFF000u; /* millis() about to wrap */
    assert_true(paku_ota_loop_step(&l, x->dev.now)); /* boot settled, first check */
    assert_int_equal(l.result.outcome, PAKU_OTA_OUTCOME_UP_TO_DATE);
    int requests = x->srv.requests;
    assert_int_equal(requests, 1);
    assert_false(paku_ota_loop_step(&l, x->dev.now + 1000));
    assert_false(paku_ota_loop_step(&l, x->dev.now + 599999));
    assert_int_equal(paku_ota_loop_due_in(&l, x->dev.now + 599000), 1000);
    assert_int_equal(x->srv.requests, requests);
    x->srv.offer_version = "1.1.0";
    assert_true(paku_ota_loop_step(&l, x->dev.now + 600000)); /* across the wrap */
    assert_int_equal(l.result.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->dev.restarts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(chunked_and_sized_bodies_share_one_kept_alive_connection),
        T(range_request_and_download_headers_reach_the_core),
        T(close_abort_and_truncation_end_the_connection),
        T(update_resumes_within_the_session_and_is_confirmed_after_the_restart),
        T(a_restart_mid_download_starts_the_image_over),
        T(no_rollback_on_this_port_the_image_keeps_trying_to_check_in),
        T(loop_checks_only_when_due_and_restarts_after_an_update),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
