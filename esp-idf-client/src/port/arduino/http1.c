/*
 * HTTP/1.1 over the Arduino port's transport: the port table's http and
 * http_close. One kept-alive connection, reused while the host, port and
 * scheme stay the same and the server keeps it open; Content-Length, chunked
 * and read-until-close bodies; the headers the core looks at.
 *
 * Why not ESP8266HTTPClient: the core needs the response headers before the
 * first body byte (to refuse a wrong Content-Range or ETag without writing
 * anything) and the body streamed into its own callbacks; ESP8266HTTPClient
 * reads into a String for chunked bodies and collects headers only by name
 * lists. This reader is small, bounded (one 192-byte line, a 192-byte
 * look-ahead; the body goes straight into the client's buffer) and tested on
 * the host (test/test_port_arduino.c).
 */
/* For cores without ESP-IDF (ESP8266); arduino-esp32 uses the ESP-IDF port. */
#if !defined(ESP_PLATFORM)

#include <stdio.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "paku_ota_port_arduino.h"

static const char *TAG = "paku_ota_http";

/* ---- URL ------------------------------------------------------------------ */

typedef struct {
    bool tls;
    uint16_t port;
    const char *host; /* not terminated: host_len */
    size_t host_len;
    const char *path; /* "/..." up to the end */
} url_t;

static bool parse_port(const char *p, const char *end, uint16_t *port)
{
    uint32_t v = 0;
    if (p == end) {
        return false;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10u + (uint32_t)(*p - '0')) > 65535u) {
            return false;
        }
    }
    *port = (uint16_t)v;
    return v > 0;
}

/* "http(s)://host[:port]/path"; IPv6 literals are not supported. */
static bool parse_url(const char *url, url_t *u)
{
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        u->tls = true;
        u->port = 443;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        u->tls = false;
        u->port = 80;
        p = url + 7;
    } else {
        return false;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash != NULL ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    u->host = p;
    u->host_len = (size_t)((colon != NULL ? colon : end) - p);
    u->path = slash != NULL ? slash : "/";
    if (u->host_len == 0 || u->host_len >= PAKU_OTA_ARDUINO_HOST_MAX || *p == '[') {
        return false;
    }
    return colon == NULL || parse_port(colon + 1, end, &u->port);
}

/* ---- the connection ------------------------------------------------------- */

static void conn_close(paku_ota_arduino_port_t *p)
{
    if (p->conn_open) {
        p->net.stop(p->net.ctx);
    }
    p->conn_open = false;
    p->in_pos = 0;
    p->in_len = 0;
}

void paku_ota_arduino_http_close(void *ctx)
{
    conn_close(ctx);
}

static bool same_server(const paku_ota_arduino_port_t *p, const url_t *u)
{
    return p->conn_open && p->conn_tls == u->tls && p->conn_port == u->port &&
           strlen(p->conn_host) == u->host_len &&
           memcmp(p->conn_host, u->host, u->host_len) == 0;
}

static paku_ota_err_t conn_open(paku_ota_arduino_port_t *p, const url_t *u, uint32_t timeout)
{
    if (same_server(p, u) && p->net.connected(p->net.ctx)) {
        return PAKU_OTA_OK; /* kept alive */
    }
    conn_close(p);
    memcpy(p->conn_host, u->host, u->host_len);
    p->conn_host[u->host_len] = '\0';
    if (p->net.connect(p->net.ctx, p->conn_host, u->port, u->tls, timeout) != 0) {
        PAKU_OTA_LOGW(TAG, "cannot connect to %s:%u", p->conn_host, (unsigned)u->port);
        return PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    p->conn_open = true;
    p->conn_tls = u->tls;
    p->conn_port = u->port;
    p->handshakes++;
    return PAKU_OTA_OK;
}

/* ---- the request ---------------------------------------------------------- */

/* The request head into buf; its length, or 0 when it does not fit. */
static size_t format_head(const paku_ota_http_request_t *req, const url_t *u, char *buf,
                          size_t size)
{
    char range[2 * PAKU_OTA_U64_STR_SIZE + 32] = "";
    char from[PAKU_OTA_U64_STR_SIZE];
    char to[PAKU_OTA_U64_STR_SIZE];
    if (req->has_range) {
        (void)snprintf(range, sizeof(range), "Range: bytes=%s-%s\r\n",
                       paku_ota_u64_str(req->range_start, from),
                       req->range_end == UINT64_MAX ? "" : paku_ota_u64_str(req->range_end, to));
    }
    char length[PAKU_OTA_U64_STR_SIZE];
    bool post = req->method == PAKU_OTA_HTTP_POST;
    int n = snprintf(buf, size,
                     "%s %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: paku-ota-arduino\r\n"
                     "Accept-Encoding: identity\r\nConnection: keep-alive\r\n%s%s%s%s%s%s",
                     post ? "POST" : "GET", u->path, (int)u->host_len, u->host, range,
                     post ? "Content-Type: " : "",
                     post ? (req->content_type != NULL ? req->content_type : "application/json")
                          : "",
                     post ? "\r\nContent-Length: " : "",
                     post ? paku_ota_u64_str(req->body_len, length) : "", post ? "\r\n\r\n" : "\r\n");
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static paku_ota_err_t send_request(paku_ota_arduino_port_t *p, const paku_ota_http_request_t *req,
                                   const url_t *u)
{
    size_t n = format_head(req, u, (char *)req->buf, req->buf_len);
    if (n == 0) {
        PAKU_OTA_LOGE(TAG, "request head does not fit the %u-byte buffer", (unsigned)req->buf_len);
        return PAKU_OTA_ERR_BUFFER_TOO_SMALL;
    }
    if (p->net.write(p->net.ctx, req->buf, n) != n ||
        (req->body_len > 0 &&
         p->net.write(p->net.ctx, (const uint8_t *)req->body, req->body_len) != req->body_len)) {
        return PAKU_OTA_ERR_HTTP_TRANSPORT;
    }
    return PAKU_OTA_OK;
}

/* ---- reading the response ------------------------------------------------- */

static paku_ota_err_t fill(paku_ota_arduino_port_t *p, uint32_t timeout)
{
    if (p->in_pos < p->in_len) {
        return PAKU_OTA_OK;
    }
    int n = p->net.read(p->net.ctx, p->in, sizeof(p->in), timeout);
    if (n <= 0) {
        return PAKU_OTA_ERR_HTTP_TRANSPORT; /* timeout, or closed */
    }
    p->in_pos = 0;
    p->in_len = (size_t)n;
    return PAKU_OTA_OK;
}

/* One line without its CR LF into p->line; a longer line is cut (its rest
 * read and dropped). */
static paku_ota_err_t read_line(paku_ota_arduino_port_t *p, uint32_t timeout)
{
    size_t n = 0;
    for (;;) {
        paku_ota_err_t err = fill(p, timeout);
        if (err != PAKU_OTA_OK) {
            return err;
        }
        char c = (char)p->in[p->in_pos++];
        if (c == '\n') {
            break;
        }
        if (n + 1 < sizeof(p->line)) {
            p->line[n++] = c;
        }
    }
    if (n > 0 && p->line[n - 1] == '\r') {
        n--;
    }
    p->line[n] = '\0';
    return PAKU_OTA_OK;
}

/* How the body ends. */
typedef enum {
    BODY_NONE,
    BODY_LENGTH,
    BODY_CHUNKED,
    BODY_UNTIL_CLOSE,
} framing_t;

typedef struct {
    framing_t framing;
    bool keep_alive;
} head_t;

static bool header_is(const char *line, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strlen(line) <= n || line[n] != ':') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != name[i]) {
            return false;
        }
    }
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    *value = v;
    return true;
}

/* Copy a header value, cut to the field (the core refuses what it cannot
 * parse). */
static void copy_value(char *dst, size_t cap, const char *v)
{
    size_t n = paku_ota_strnlen(v, cap - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\t')) {
        dst[--n] = '\0';
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9') {
        return false;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9u) / 10u) {
            return false;
        }
        v = v * 10u + (uint64_t)(*s - '0');
    }
    *out = v;
    return *s == '\0' || *s == ' ';
}

static void one_header(const char *line, paku_ota_http_response_t *resp, head_t *head)
{
    const char *v = NULL;
    if (header_is(line, "content-length", &v)) {
        resp->has_content_length = parse_u64(v, &resp->content_length);
    } else if (header_is(line, "content-range", &v)) {
        copy_value(resp->content_range, sizeof(resp->content_range), v);
    } else if (header_is(line, "etag", &v)) {
        copy_value(resp->etag, sizeof(resp->etag), v);
    } else if (header_is(line, "x-checksum-sha256", &v)) {
        copy_value(resp->checksum_sha256, sizeof(resp->checksum_sha256), v);
    } else if (header_is(line, "retry-after", &v)) {
        copy_value(resp->retry_after, sizeof(resp->retry_after), v);
    } else if (header_is(line, "location", &v)) {
        copy_value(resp->location, sizeof(resp->location), v);
    } else if (header_is(line, "transfer-encoding", &v)) {
        head->framing = paku_ota_str_ieq(v, "chunked") ? BODY_CHUNKED : BODY_UNTIL_CLOSE;
    } else if (header_is(line, "connection", &v) && paku_ota_str_ieq(v, "close")) {
        head->keep_alive = false;
    }
}

/* Status line and headers; 1xx interim responses are skipped. */
static paku_ota_err_t read_head(paku_ota_arduino_port_t *p, uint32_t timeout,
                                paku_ota_http_response_t *resp, head_t *head)
{
    do {
        memset(resp, 0, sizeof(*resp));
        paku_ota_err_t err = read_line(p, timeout);
        if (err != PAKU_OTA_OK) {
            return err;
        }
        const char *l = p->line;
        if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
            l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' ||
            l[11] > '9' || (l[12] != ' ' && l[12] != '\0')) {
            PAKU_OTA_LOGW(TAG, "not an HTTP/1.x status line");
            return PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        resp->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
        head->keep_alive = l[7] == '1';
        head->framing = BODY_UNTIL_CLOSE;
        for (;;) {
            if ((err = read_line(p, timeout)) != PAKU_OTA_OK) {
                return err;
            }
            if (p->line[0] == '\0') {
                break;
            }
            one_header(p->line, resp, head);
        }
    } while (resp->status < 200);
    if (head->framing == BODY_UNTIL_CLOSE && resp->has_content_length) {
        head->framing = BODY_LENGTH;
    }
    if (resp->status == 204 || resp->status == 304) {
        head->framing = BODY_NONE;
    }
    if (head->framing == BODY_UNTIL_CLOSE) {
        head->keep_alive = false;
    }
    return PAKU_OTA_OK;
}

/* Deliver up to want bytes of the body (look-ahead first, then straight into
 * the request's buffer). *got 0 with PAKU_OTA_OK means the peer closed. */
static paku_ota_err_t body_piece(paku_ota_arduino_port_t *p, const paku_ota_http_request_t *req,
                                 uint64_t want, size_t *got, bool eof_ok)
{
    const uint8_t *data;
    size_t n;
    *got = 0;
    if (p->in_pos < p->in_len) {
        n = p->in_len - p->in_pos;
        data = p->in + p->in_pos;
        n = n < want ? n : (size_t)want;
        p->in_pos += n;
    } else {
        size_t room = req->buf_len < want ? req->buf_len : (size_t)want;
        int r = p->net.read(p->net.ctx, req->buf, room, req->timeout_ms);
        if (r < 0 && eof_ok) {
            return PAKU_OTA_OK;
        }
        if (r <= 0) {
            return PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        data = req->buf;
        n = (size_t)r;
    }
    *got = n;
    if (req->on_body != NULL && req->on_body(req->user, data, n) != 0) {
        return PAKU_OTA_ERR_ABORTED;
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t body_bytes(paku_ota_arduino_port_t *p, const paku_ota_http_request_t *req,
                                 uint64_t len)
{
    while (len > 0) {
        size_t got = 0;
        paku_ota_err_t err = body_piece(p, req, len, &got, false);
        if (err != PAKU_OTA_OK) {
            return err;
        }
        len -= got;
    }
    return PAKU_OTA_OK;
}

/* A chunk-size line: hex digits, then optional extensions. */
static bool chunk_size(const char *line, uint64_t *size)
{
    uint64_t v = 0;
    const char *s = line;
    for (; *s != '\0' && *s != ';' && *s != ' '; s++) {
        int d = (*s >= '0' && *s <= '9')   ? *s - '0'
                : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
                : (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10
                                           : -1;
        if (d < 0 || v > (UINT64_MAX >> 4)) {
            return false;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *size = v;
    return s > line;
}

static paku_ota_err_t body_chunked(paku_ota_arduino_port_t *p,
                                   const paku_ota_http_request_t *req)
{
    for (;;) {
        uint64_t size = 0;
        paku_ota_err_t err = read_line(p, req->timeout_ms);
        if (err != PAKU_OTA_OK) {
            return err;
        }
        if (!chunk_size(p->line, &size)) {
            return PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
        if (size == 0) {
            break;
        }
        if ((err = body_bytes(p, req, size)) != PAKU_OTA_OK ||
            (err = read_line(p, req->timeout_ms)) != PAKU_OTA_OK) {
            return err;
        }
        if (p->line[0] != '\0') {
            return PAKU_OTA_ERR_HTTP_TRANSPORT;
        }
    }
    do { /* trailer fields up to the empty line */
        paku_ota_err_t err = read_line(p, req->timeout_ms);
        if (err != PAKU_OTA_OK) {
            return err;
        }
    } while (p->line[0] != '\0');
    return PAKU_OTA_OK;
}

static paku_ota_err_t body_until_close(paku_ota_arduino_port_t *p,
                                       const paku_ota_http_request_t *req)
{
    for (;;) {
        size_t got = 0;
        paku_ota_err_t err = body_piece(p, req, UINT64_MAX, &got, true);
        if (err != PAKU_OTA_OK || got == 0) {
            return err;
        }
    }
}

static paku_ota_err_t read_body(paku_ota_arduino_port_t *p, const paku_ota_http_request_t *req,
                                const paku_ota_http_response_t *resp, const head_t *head)
{
    switch (head->framing) {
    case BODY_NONE:
        return PAKU_OTA_OK;
    case BODY_LENGTH:
        return body_bytes(p, req, resp->content_length);
    case BODY_CHUNKED:
        return body_chunked(p, req);
    case BODY_UNTIL_CLOSE:
        break;
    }
    return body_until_close(p, req);
}

paku_ota_err_t paku_ota_arduino_http(void *ctx, const paku_ota_http_request_t *req,
                                     paku_ota_http_response_t *resp)
{
    paku_ota_arduino_port_t *p = ctx;
    url_t u;
    memset(resp, 0, sizeof(*resp));
    if (req->url == NULL || !parse_url(req->url, &u) || req->buf == NULL || req->buf_len < 256) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_err_t err = conn_open(p, &u, req->timeout_ms);
    if (err == PAKU_OTA_OK) {
        err = send_request(p, req, &u);
    }
    head_t head = {BODY_UNTIL_CLOSE, false};
    if (err == PAKU_OTA_OK) {
        err = read_head(p, req->timeout_ms, resp, &head);
    }
    if (err == PAKU_OTA_OK && req->on_headers != NULL && req->on_headers(req->user, resp) != 0) {
        err = PAKU_OTA_ERR_ABORTED;
    }
    if (err == PAKU_OTA_OK) {
        err = read_body(p, req, resp, &head);
    }
    /* A stopped or failed exchange leaves the stream mid-message: the
     * connection cannot carry another request. */
    if (err != PAKU_OTA_OK || !head.keep_alive) {
        conn_close(p);
    }
    return err;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int paku_ota_http1_unused_t;
#endif /* !ESP_PLATFORM */
