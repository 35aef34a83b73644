/*
 * openloop: an open-loop (constant arrival rate) HTTP/1.1 load generator.
 *
 * Model. Arrivals are scheduled at a fixed rate from a monotonic clock, whatever the server does: arrival k of
 * thread t of T is due at (k*T + t) / rate seconds after the start, and every loop turn issues all arrivals that
 * are due, so a late turn catches up instead of lowering the rate (no coordinated omission). Each arrival picks a
 * device uniformly at random; thread t owns the devices whose index % T == t, so back-off state is never shared.
 * An arrival takes an idle keep-alive connection of its thread, or opens one (at most connections / threads per
 * thread), or waits in the thread's FIFO backlog (1,000,000 arrivals over all threads). Latency runs from the
 * arrival's *scheduled* time, so time spent waiting in the client (a late loop turn, the backlog, a connect) is
 * counted, not hidden.
 * Loop turns: a thread whose arrivals are at most 100 us apart sleeps a tick (100 us) at a time and then polls its
 * sockets, rather than waking for every arrival and every answer; this adds up to a tick to the latencies it
 * measures and about halves its own CPU use. A slower thread sleeps in epoll until its next arrival or event.
 * With --honour-retry-after the fleet behaves like devices that honour Retry-After: after a 429 or 503 for device
 * i, arrivals for i are not sent until Retry-After seconds (1 s when absent) have passed; such a device also waits
 * for its answer, so an arrival for a device whose request is still waiting or in flight is not sent either.
 * Without the flag every arrival is sent, whatever came back.
 *
 * Counters cover only arrivals scheduled in the measured window [warmup, warmup + duration):
 *   scheduled       arrivals in the window = sent + suppressed + client_dropped
 *   sent            handed to a connection (= completed + timeouts + connect_errors + read_errors)
 *   suppressed      not sent: the device was backing off after a 429/503, or still awaited an answer
 *                   (--honour-retry-after only)
 *   client_dropped  not sent: the backlog was full, or the arrival was still in it when the run ended
 *   completed       a whole response was read; s2xx, s429, s503, sother split it by status
 *   timeouts        no whole response within --timeout-ms of being sent, or none when the run ended
 *   connect_errors  the connection for it could not be opened
 *   read_errors     reset, EOF, send failure or unparseable data mid-request
 * Besides: ok_in_window and shed_in_window count the 2xx and 429/503 answers that *came back* in the window, whenever
 * their arrivals were scheduled: divided by the window, the rates the server answered at (its goodput), which the
 * per-arrival counts overstate when answers to the window's arrivals keep coming after it.
 * rate= in the result line is the offered rate; the summary on stderr also gives achieved_send_rate, sent divided
 * by the window or, if the last counted arrival was sent after the window, by the time until then.
 * backlog_max is the sum over threads of each backlog's longest length; connections_opened counts all connects
 * begun (warm-up included; one refused after it began also counts as a connect error).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL
#define NS_PER_MS 1000000ULL
#define BACKLOG_LIMIT 1000000  /* arrivals waiting for a connection, over all threads */
#define LINE_MAX_LEN 256       /* longer response lines are truncated (only short headers matter) */
#define READ_BUF_SIZE 65536
#define MAX_EVENTS 1024
#define MAX_WAIT_NS (100 * NS_PER_MS)
#define TICK_NS 100000ULL /* a thread whose arrivals are at most this far apart turns its loop once a tick */
#define DEFAULT_RETRY_AFTER_S 1

/* ---- options ---- */

struct options {
    const char *host;
    int port;
    const char *path;
    char **models;
    int nmodels;
    uint32_t fleet;
    double rate;
    double duration_s;
    double warmup_s;
    int connections;
    int threads;
    bool honour_retry_after;
    uint64_t timeout_ns;
    char *extra_headers; /* "Name: value\r\n" lines */
    uint64_t seed;
};

static struct options opt = {
    .host = "127.0.0.1", .port = 18080, .fleet = 10000, .duration_s = 30, .connections = 8192, .threads = 2,
    .timeout_ns = 10000 * NS_PER_MS, .seed = 1,
};
static struct sockaddr_in server_addr;
static uint64_t start_ns;    /* every schedule is relative to this monotonic time */
static uint64_t *backoff_ns; /* per device: not sent before this time (relative to start); UINT64_MAX: waiting */

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "openloop: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    return mono_ns() - start_ns;
}

/* ---- request template ---- */

enum segment_kind { SEG_TEXT, SEG_ID, SEG_MODEL };

struct segment {
    enum segment_kind kind;
    const char *text;
    size_t len;
};

static struct segment *segments;
static int nsegments;
static char *request_tail; /* " HTTP/1.1\r\nHost: ...\r\n<headers>\r\n" */
static size_t request_tail_len;
static size_t request_cap;

static void add_segment(enum segment_kind kind, const char *text, size_t len)
{
    segments = realloc(segments, (size_t)(nsegments + 1) * sizeof *segments);
    if (!segments) die("%s", "out of memory");
    segments[nsegments++] = (struct segment){kind, text, len};
}

static void compile_path(const char *path)
{
    size_t model_max = 0;
    for (int i = 0; i < opt.nmodels; i++) {
        size_t len = strlen(opt.models[i]);
        if (len > model_max) model_max = len;
    }
    request_cap = 4;
    const char *text = path;
    for (const char *p = path; *p;) {
        bool is_id = strncmp(p, "{id}", 4) == 0, is_model = strncmp(p, "{model}", 7) == 0;
        if (!is_id && !is_model) {
            p++;
            continue;
        }
        add_segment(SEG_TEXT, text, (size_t)(p - text));
        add_segment(is_id ? SEG_ID : SEG_MODEL, NULL, 0);
        request_cap += (size_t)(p - text) + (is_id ? 20 : model_max);
        p += is_id ? 4 : 7;
        text = p;
    }
    add_segment(SEG_TEXT, text, strlen(text));
    request_cap += strlen(text);

    size_t tail_cap = strlen(opt.host) + strlen(opt.extra_headers) + 64;
    request_tail = malloc(tail_cap);
    if (!request_tail) die("%s", "out of memory");
    request_tail_len = (size_t)snprintf(request_tail, tail_cap, " HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", opt.host,
                                        opt.port, opt.extra_headers);
    request_cap += request_tail_len;
}

static size_t build_request(char *out, uint32_t device)
{
    char *p = out;
    memcpy(p, "GET ", 4);
    p += 4;
    for (int i = 0; i < nsegments; i++) {
        const struct segment *s = &segments[i];
        if (s->kind == SEG_ID) {
            p += sprintf(p, "%07u", device);
        } else {
            const char *text = s->kind == SEG_MODEL ? opt.models[device % (uint32_t)opt.nmodels] : s->text;
            size_t len = s->kind == SEG_MODEL ? strlen(text) : s->len;
            memcpy(p, text, len);
            p += len;
        }
    }
    memcpy(p, request_tail, request_tail_len);
    return (size_t)(p - out) + request_tail_len;
}

/* ---- latency histogram: log-linear, 128 linear buckets per power of two (<= 0.4 % error at the midpoint) ---- */

#define HIST_SUB_BITS 7
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_NS 60000000000ULL /* < 2^36 */
#define HIST_BUCKETS (HIST_SUB + (36 - HIST_SUB_BITS) * HIST_SUB)

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max_ns;
};

static int hist_index(uint64_t ns)
{
    if (ns < HIST_SUB) return (int)ns;
    int octave = 63 - __builtin_clzll(ns);
    int shift = octave - HIST_SUB_BITS;
    return HIST_SUB + shift * HIST_SUB + (int)((ns >> shift) - HIST_SUB);
}

static double hist_bucket_mid_ns(int index)
{
    if (index < HIST_SUB) return index;
    int shift = (index - HIST_SUB) / HIST_SUB;
    uint64_t low = (uint64_t)(HIST_SUB + (index - HIST_SUB) % HIST_SUB) << shift;
    return (double)low + (double)(1ULL << shift) / 2;
}

static void hist_record(struct histogram *h, uint64_t ns)
{
    if (ns > HIST_MAX_NS) ns = HIST_MAX_NS;
    h->counts[hist_index(ns)]++;
    h->total++;
    if (ns > h->max_ns) h->max_ns = ns;
}

static void hist_merge(struct histogram *into, const struct histogram *from)
{
    for (int i = 0; i < HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
}

static double hist_quantile_ns(const struct histogram *h, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)h->total), seen = 0;
    if (rank == 0) rank = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) return fmin(hist_bucket_mid_ns(i), (double)h->max_ns);
    }
    return (double)h->max_ns;
}

/* ---- HTTP/1.1 response parser (incremental; the body is discarded) ---- */

enum parse_state {
    P_STATUS, P_HEADER, P_BODY_LENGTH, P_BODY_UNTIL_CLOSE, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_END, P_TRAILER, P_DONE
};

struct response {
    enum parse_state state;
    char line[LINE_MAX_LEN];
    size_t line_len;
    int status;
    int64_t content_length; /* -1: none */
    bool chunked;
    bool close;
    int retry_after_s; /* -1: none */
    uint64_t remaining;
};

static void response_reset(struct response *r)
{
    r->state = P_STATUS;
    r->line_len = 0;
    r->status = 0;
    r->content_length = -1;
    r->chunked = false;
    r->close = false;
    r->retry_after_s = -1;
    r->remaining = 0;
}

static bool parse_status_line(struct response *r, const char *line)
{
    int minor, status;
    if (sscanf(line, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100 || status > 999) return false;
    r->status = status;
    r->close = minor == 0;
    r->state = P_HEADER;
    return true;
}

static void parse_header(struct response *r, char *line)
{
    char *colon = strchr(line, ':');
    if (!colon) return;
    *colon = '\0';
    char *value = colon + 1;
    value += strspn(value, " \t");
    if (strcasecmp(line, "content-length") == 0) r->content_length = strtoll(value, NULL, 10);
    else if (strcasecmp(line, "transfer-encoding") == 0) r->chunked = strcasestr(value, "chunked") != NULL;
    else if (strcasecmp(line, "connection") == 0) r->close = strcasestr(value, "close") != NULL;
    else if (strcasecmp(line, "retry-after") == 0 && *value >= '0' && *value <= '9') r->retry_after_s = atoi(value);
}

static void headers_done(struct response *r)
{
    if (r->status < 200) {
        response_reset(r); /* an interim 1xx answer: the real one follows */
    } else if (r->status == 204 || r->status == 304) {
        r->state = P_DONE;
    } else if (r->chunked) {
        r->state = P_CHUNK_SIZE;
    } else if (r->content_length >= 0) {
        r->remaining = (uint64_t)r->content_length;
        r->state = r->remaining ? P_BODY_LENGTH : P_DONE;
    } else {
        r->state = P_BODY_UNTIL_CLOSE;
        r->close = true;
    }
}

static bool parse_chunk_size(struct response *r, const char *line)
{
    char *end;
    unsigned long long size = strtoull(line, &end, 16);
    if (end == line) return false;
    r->remaining = size;
    r->state = size ? P_CHUNK_DATA : P_TRAILER;
    return true;
}

/* A whole line (CR LF stripped) arrived in a line state; false on a protocol error. */
static bool end_line(struct response *r)
{
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r') r->line_len--;
    r->line[r->line_len] = '\0';
    bool empty = r->line_len == 0;
    r->line_len = 0;
    switch (r->state) {
    case P_STATUS: return parse_status_line(r, r->line);
    case P_HEADER:
        if (empty) headers_done(r);
        else parse_header(r, r->line);
        return true;
    case P_CHUNK_SIZE: return parse_chunk_size(r, r->line);
    case P_CHUNK_END:
        r->state = P_CHUNK_SIZE;
        return empty;
    case P_TRAILER:
        if (empty) r->state = P_DONE;
        return true;
    default: return false;
    }
}

static size_t consume_body(struct response *r, size_t len)
{
    if (r->state == P_BODY_UNTIL_CLOSE) return len;
    size_t take = r->remaining < len ? (size_t)r->remaining : len;
    r->remaining -= take;
    if (r->remaining == 0) r->state = r->state == P_BODY_LENGTH ? P_DONE : P_CHUNK_END;
    return take;
}

enum parse_result { PARSE_MORE, PARSE_DONE, PARSE_ERROR };

static enum parse_result parse_response(struct response *r, const char *data, size_t len)
{
    size_t pos = 0;
    while (pos < len && r->state != P_DONE) {
        if (r->state == P_BODY_LENGTH || r->state == P_CHUNK_DATA || r->state == P_BODY_UNTIL_CLOSE) {
            pos += consume_body(r, len - pos);
            continue;
        }
        const char *newline = memchr(data + pos, '\n', len - pos);
        size_t take = newline ? (size_t)(newline - (data + pos)) : len - pos;
        size_t room = LINE_MAX_LEN - 1 - r->line_len;
        memcpy(r->line + r->line_len, data + pos, take < room ? take : room);
        r->line_len += take < room ? take : room;
        pos += take;
        if (!newline) break;
        pos++;
        if (!end_line(r)) return PARSE_ERROR;
    }
    return r->state == P_DONE ? PARSE_DONE : PARSE_MORE;
}

/* ---- per-thread state ---- */

struct arrival {
    uint64_t sched_ns;
    uint32_t device;
    bool counted;
};

enum conn_state { CONN_FREE, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

struct conn {
    int fd;
    enum conn_state state;
    uint32_t events;      /* registered with epoll */
    struct arrival arrival;
    uint64_t sent_ns;
    char *out;
    size_t out_len, out_off;
    struct response response;
    int prev, next;       /* in-flight list, oldest first */
    int idle_pos;
};

struct counters {
    uint64_t scheduled, sent, suppressed, completed, s2xx, s429, s503, sother, timeouts, connect_errors,
        read_errors, client_dropped;
    uint64_t ok_in_window, shed_in_window; /* answers that *arrived* in the window, whenever they were scheduled */
};

struct worker {
    int id;
    pthread_t thread;
    int epfd;
    struct conn *conns;
    int max_conns, open_conns;
    int *free_slots, nfree;
    int *idle, nidle;
    int inflight_head, inflight_tail;
    struct arrival *backlog;
    size_t backlog_cap, backlog_head, backlog_len, backlog_max;
    bool ticking;
    uint64_t rng;
    uint64_t issued;
    uint32_t owned_devices;
    uint64_t outstanding_counted; /* counted arrivals in the backlog or in flight */
    uint64_t last_counted_send_ns;
    uint64_t max_issue_lag_ns;
    uint64_t connections_opened;
    struct counters c;
    struct histogram ok, shed;
    char read_buf[READ_BUF_SIZE];
};

enum outcome { OUT_RESPONSE, OUT_TIMEOUT, OUT_CONNECT_ERROR, OUT_READ_ERROR };

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t pick_device(struct worker *w)
{
    uint64_t j = (uint64_t)(((unsigned __int128)splitmix64(&w->rng) * w->owned_devices) >> 64);
    return (uint32_t)(j * (uint64_t)opt.threads + (uint64_t)w->id);
}

static uint64_t scheduled_ns(const struct worker *w, uint64_t k)
{
    return (uint64_t)((double)(k * (uint64_t)opt.threads + (uint64_t)w->id) * (double)NS_PER_S / opt.rate);
}

/* ---- connection pool ---- */

static void set_events(struct worker *w, struct conn *c, uint32_t events)
{
    if (c->events == events) return;
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - w->conns)};
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void inflight_append(struct worker *w, struct conn *c)
{
    int index = (int)(c - w->conns);
    c->prev = w->inflight_tail;
    c->next = -1;
    if (w->inflight_tail >= 0) w->conns[w->inflight_tail].next = index;
    else w->inflight_head = index;
    w->inflight_tail = index;
}

static void inflight_remove(struct worker *w, struct conn *c)
{
    if (c->prev >= 0) w->conns[c->prev].next = c->next;
    else w->inflight_head = c->next;
    if (c->next >= 0) w->conns[c->next].prev = c->prev;
    else w->inflight_tail = c->prev;
}

static void idle_push(struct worker *w, struct conn *c)
{
    c->state = CONN_IDLE;
    set_events(w, c, EPOLLIN); /* a response may end before the request was fully written */
    c->idle_pos = w->nidle;
    w->idle[w->nidle++] = (int)(c - w->conns);
}

static void idle_remove(struct worker *w, struct conn *c)
{
    int last = w->idle[--w->nidle];
    w->idle[c->idle_pos] = last;
    w->conns[last].idle_pos = c->idle_pos;
}

static void close_conn(struct worker *w, struct conn *c)
{
    if (c->state == CONN_IDLE) idle_remove(w, c);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = CONN_FREE;
    w->free_slots[w->nfree++] = (int)(c - w->conns);
    w->open_conns--;
}

/* A device that honours Retry-After has one request at a time: it waits from the arrival until the answer. */
static void device_waits(uint32_t device)
{
    if (opt.honour_retry_after) backoff_ns[device] = UINT64_MAX;
}

static void device_answered(uint32_t device, uint64_t backoff_until)
{
    if (opt.honour_retry_after) backoff_ns[device] = backoff_until;
}

/* Whether a moment (ns since the start) lies in the measured window [warmup, warmup + duration). */
static bool in_window(uint64_t t)
{
    double s = (double)t / NS_PER_S;
    return s >= opt.warmup_s && s < opt.warmup_s + opt.duration_s;
}

static void record_response(struct worker *w, const struct arrival *a, const struct response *r, uint64_t now)
{
    bool ok = r->status >= 200 && r->status < 300, shed = r->status == 429 || r->status == 503;
    int retry_after_s = r->retry_after_s >= 0 ? r->retry_after_s : DEFAULT_RETRY_AFTER_S;
    device_answered(a->device, shed ? now + (uint64_t)retry_after_s * NS_PER_S : now);
    if (in_window(now)) {
        if (ok) w->c.ok_in_window++;
        else if (shed) w->c.shed_in_window++;
    }
    if (!a->counted) return;
    w->c.completed++;
    if (ok) w->c.s2xx++;
    else if (r->status == 429) w->c.s429++;
    else if (r->status == 503) w->c.s503++;
    else w->c.sother++;
    if (ok || shed) hist_record(ok ? &w->ok : &w->shed, now - a->sched_ns);
}

static void record_failure(struct worker *w, const struct arrival *a, enum outcome outcome, uint64_t now)
{
    device_answered(a->device, now);
    if (!a->counted) return;
    if (outcome == OUT_TIMEOUT) w->c.timeouts++;
    else if (outcome == OUT_CONNECT_ERROR) w->c.connect_errors++;
    else w->c.read_errors++;
}

/* The connection's request ended: account for it, then keep the connection idle or close it. */
static void finish_request(struct worker *w, struct conn *c, enum outcome outcome, uint64_t now)
{
    inflight_remove(w, c);
    if (c->arrival.counted) w->outstanding_counted--;
    if (outcome == OUT_RESPONSE) record_response(w, &c->arrival, &c->response, now);
    else record_failure(w, &c->arrival, outcome, now);
    if (outcome == OUT_RESPONSE && !c->response.close) idle_push(w, c);
    else close_conn(w, c);
}

static void write_request(struct worker *w, struct conn *c, uint64_t now)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            set_events(w, c, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n < 0) {
            finish_request(w, c, OUT_READ_ERROR, now);
            return;
        }
        c->out_off += (size_t)n;
    }
    set_events(w, c, EPOLLIN);
}

/* Hands arrival a to connection c (idle, or just opened and still connecting). */
static void begin_request(struct worker *w, struct conn *c, const struct arrival *a, uint64_t now)
{
    if (a->counted) {
        w->c.sent++;
        w->last_counted_send_ns = now;
    }
    c->arrival = *a;
    c->sent_ns = now;
    c->out_len = build_request(c->out, a->device);
    c->out_off = 0;
    response_reset(&c->response);
    inflight_append(w, c);
    if (c->state == CONN_IDLE) {
        idle_remove(w, c);
        c->state = CONN_BUSY;
        write_request(w, c, now);
    }
}

static int open_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&server_addr, sizeof server_addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens a new connection for arrival a; a connect that fails at once counts as its connect error. */
static void open_conn(struct worker *w, const struct arrival *a, uint64_t now)
{
    struct conn *c = &w->conns[w->free_slots[--w->nfree]];
    c->fd = open_socket();
    c->state = CONN_CONNECTING;
    c->events = EPOLLOUT;
    w->open_conns++;
    begin_request(w, c, a, now);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - w->conns)};
    if (c->fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        finish_request(w, c, OUT_CONNECT_ERROR, now);
        return;
    }
    w->connections_opened++;
}

/* Sends a on an idle or new connection; false when the pool is full and busy. */
static bool start_request(struct worker *w, const struct arrival *a, uint64_t now)
{
    if (w->nidle > 0) begin_request(w, &w->conns[w->idle[w->nidle - 1]], a, now);
    else if (w->open_conns < w->max_conns) open_conn(w, a, now);
    else return false;
    return true;
}

/* ---- backlog and arrivals ---- */

static void backlog_push(struct worker *w, const struct arrival *a)
{
    if (w->backlog_len == w->backlog_cap) {
        device_answered(a->device, 0);
        if (a->counted) {
            w->c.client_dropped++;
            w->outstanding_counted--;
        }
        return;
    }
    w->backlog[(w->backlog_head + w->backlog_len) % w->backlog_cap] = *a;
    if (++w->backlog_len > w->backlog_max) w->backlog_max = w->backlog_len;
}

static void serve_backlog(struct worker *w, uint64_t now)
{
    while (w->backlog_len > 0 && start_request(w, &w->backlog[w->backlog_head], now)) {
        w->backlog_head = (w->backlog_head + 1) % w->backlog_cap;
        w->backlog_len--;
    }
}

static void issue_arrival(struct worker *w, uint64_t sched, uint64_t now)
{
    struct arrival a = {.sched_ns = sched, .device = pick_device(w)};
    a.counted = sched >= (uint64_t)(opt.warmup_s * NS_PER_S);
    if (a.counted) {
        w->c.scheduled++;
        if (now - sched > w->max_issue_lag_ns) w->max_issue_lag_ns = now - sched;
    }
    if (opt.honour_retry_after && backoff_ns[a.device] > now) {
        if (a.counted) w->c.suppressed++;
        return;
    }
    if (a.counted) w->outstanding_counted++;
    device_waits(a.device);
    if (w->backlog_len > 0 || !start_request(w, &a, now)) backlog_push(w, &a);
}

static void issue_due_arrivals(struct worker *w, uint64_t now, uint64_t window_end)
{
    for (uint64_t sched; (sched = scheduled_ns(w, w->issued)) <= now && sched < window_end; w->issued++)
        issue_arrival(w, sched, now);
}

static void expire_timeouts(struct worker *w, uint64_t now)
{
    while (w->inflight_head >= 0 && w->conns[w->inflight_head].sent_ns + opt.timeout_ns <= now)
        finish_request(w, &w->conns[w->inflight_head], OUT_TIMEOUT, now);
}

/* ---- socket events ---- */

static void on_connected(struct worker *w, struct conn *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        finish_request(w, c, OUT_CONNECT_ERROR, now);
        return;
    }
    c->state = CONN_BUSY;
    write_request(w, c, now);
}

static void read_response(struct worker *w, struct conn *c, uint64_t now)
{
    ssize_t n = recv(c->fd, w->read_buf, sizeof w->read_buf, 0);
    if (n < 0 && errno == EAGAIN) return;
    if (n == 0 && c->response.state == P_BODY_UNTIL_CLOSE) {
        finish_request(w, c, OUT_RESPONSE, now);
        return;
    }
    enum parse_result result = n > 0 ? parse_response(&c->response, w->read_buf, (size_t)n) : PARSE_ERROR;
    if (result == PARSE_DONE) finish_request(w, c, OUT_RESPONSE, now);
    else if (result == PARSE_ERROR) finish_request(w, c, OUT_READ_ERROR, now);
}

static void handle_event(struct worker *w, struct conn *c, uint32_t events, uint64_t now)
{
    if (c->state == CONN_IDLE) {
        close_conn(w, c); /* the server closed a keep-alive connection, or sent what nobody asked for */
    } else if (c->state == CONN_CONNECTING) {
        on_connected(w, c, now);
    } else if (c->state == CONN_BUSY) {
        if (events & EPOLLOUT) write_request(w, c, now);
        if (c->state == CONN_BUSY && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_response(w, c, now);
    }
}

static void wait_for_events(struct worker *w, uint64_t now, uint64_t wake_ns)
{
    uint64_t wait_ns = wake_ns > now ? wake_ns - now : 0;
    if (wait_ns > MAX_WAIT_NS) wait_ns = MAX_WAIT_NS;
    if (wait_ns > 0 && w->ticking) {
        struct timespec tick = {.tv_nsec = (long)TICK_NS};
        nanosleep(&tick, NULL);
        wait_ns = 0;
    }
    struct timespec timeout = {.tv_sec = (time_t)(wait_ns / NS_PER_S), .tv_nsec = (long)(wait_ns % NS_PER_S)};
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_pwait2(w->epfd, events, MAX_EVENTS, &timeout, NULL);
    now = now_ns();
    for (int i = 0; i < n; i++) handle_event(w, &w->conns[events[i].data.u32], events[i].events, now);
}

/* The run is over: what is still in the backlog was never sent, what is in flight was never answered. */
static void settle_leftovers(struct worker *w)
{
    for (; w->backlog_len > 0; w->backlog_len--, w->backlog_head = (w->backlog_head + 1) % w->backlog_cap)
        if (w->backlog[w->backlog_head].counted) w->c.client_dropped++;
    for (int i = w->inflight_head; i >= 0; i = w->conns[i].next)
        if (w->conns[i].arrival.counted) w->c.timeouts++;
    for (int i = 0; i < w->max_conns; i++)
        if (w->conns[i].state != CONN_FREE) close(w->conns[i].fd);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within ~1 us of the next arrival, not the default 50 us */
    uint64_t window_end = (uint64_t)((opt.warmup_s + opt.duration_s) * NS_PER_S);
    uint64_t hard_end = window_end + opt.timeout_ns;
    for (;;) {
        uint64_t now = now_ns();
        issue_due_arrivals(w, now, window_end);
        expire_timeouts(w, now);
        serve_backlog(w, now);
        uint64_t next_arrival = scheduled_ns(w, w->issued);
        bool arrivals_left = next_arrival < window_end;
        if (!arrivals_left && (w->outstanding_counted == 0 || now >= hard_end)) break;
        uint64_t wake = arrivals_left ? next_arrival : hard_end;
        if (w->inflight_head >= 0 && w->conns[w->inflight_head].sent_ns + opt.timeout_ns < wake)
            wake = w->conns[w->inflight_head].sent_ns + opt.timeout_ns;
        wait_for_events(w, now, wake);
    }
    settle_leftovers(w);
    return NULL;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) die("%s", "out of memory");
    return p;
}

static void init_worker(struct worker *w, int id)
{
    w->id = id;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) die("%s", "epoll_create1 failed");
    w->max_conns = opt.connections / opt.threads;
    w->conns = xcalloc((size_t)w->max_conns, sizeof *w->conns);
    w->free_slots = xcalloc((size_t)w->max_conns, sizeof *w->free_slots);
    w->idle = xcalloc((size_t)w->max_conns, sizeof *w->idle);
    char *out = xcalloc((size_t)w->max_conns, request_cap);
    for (int i = 0; i < w->max_conns; i++) {
        w->conns[i] = (struct conn){.fd = -1, .state = CONN_FREE, .out = out + (size_t)i * request_cap};
        w->free_slots[i] = w->max_conns - 1 - i;
    }
    w->nfree = w->max_conns;
    w->inflight_head = w->inflight_tail = -1;
    w->backlog_cap = BACKLOG_LIMIT / (size_t)opt.threads;
    w->backlog = xcalloc(w->backlog_cap, sizeof *w->backlog);
    w->ticking = opt.threads * (double)NS_PER_S / opt.rate <= TICK_NS;
    w->rng = opt.seed * 0x100000001B3ULL + (uint64_t)id;
    w->owned_devices = (opt.fleet - (uint32_t)id + (uint32_t)opt.threads - 1) / (uint32_t)opt.threads;
}

/* ---- command line and report ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: openloop --path TEMPLATE --rate N --duration S [--host H] [--port P] [--models a,b]\n"
            "                [--fleet N] [--warmup S] [--connections N] [--threads N] [--honour-retry-after]\n"
            "                [--timeout-ms N] [--header 'Name: value']... [--seed N]\n"
            "TEMPLATE may contain {id} (device index, 7 digits) and {model} (models[index %% count]).\n");
    exit(2);
}

static void split_models(char *list)
{
    opt.nmodels = 0;
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        opt.models = realloc(opt.models, (size_t)(opt.nmodels + 1) * sizeof *opt.models);
        if (!opt.models) die("%s", "out of memory");
        opt.models[opt.nmodels++] = m;
    }
}

static void add_header(const char *header)
{
    size_t old = strlen(opt.extra_headers), len = strlen(header);
    opt.extra_headers = realloc(opt.extra_headers, old + len + 3);
    if (!opt.extra_headers) die("%s", "out of memory");
    memcpy(opt.extra_headers + old, header, len);
    memcpy(opt.extra_headers + old + len, "\r\n", 3);
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},     {"port", required_argument, 0, 'p'},
        {"path", required_argument, 0, 'P'},     {"models", required_argument, 0, 'm'},
        {"fleet", required_argument, 0, 'f'},    {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'}, {"warmup", required_argument, 0, 'w'},
        {"connections", required_argument, 0, 'c'}, {"threads", required_argument, 0, 't'},
        {"honour-retry-after", no_argument, 0, 'R'}, {"timeout-ms", required_argument, 0, 'T'},
        {"header", required_argument, 0, 'h'},   {"seed", required_argument, 0, 's'},
        {0, 0, 0, 0},
    };
    static char default_models[] = "esp32";
    split_models(default_models);
    opt.extra_headers = xcalloc(1, 1);
    for (int ch; (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (ch) {
        case 'H': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'P': opt.path = optarg; break;
        case 'm': split_models(optarg); break;
        case 'f': opt.fleet = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': opt.rate = atof(optarg); break;
        case 'd': opt.duration_s = atof(optarg); break;
        case 'w': opt.warmup_s = atof(optarg); break;
        case 'c': opt.connections = atoi(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'R': opt.honour_retry_after = true; break;
        case 'T': opt.timeout_ns = strtoull(optarg, NULL, 10) * NS_PER_MS; break;
        case 'h': add_header(optarg); break;
        case 's': opt.seed = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (optind != argc || !opt.path || opt.rate <= 0 || opt.duration_s <= 0 || opt.warmup_s < 0 || opt.threads < 1 ||
        opt.connections < opt.threads || opt.fleet < (uint32_t)opt.threads || opt.nmodels < 1 || opt.timeout_ns == 0)
        usage();
}

static void resolve_server(void)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(opt.host, NULL, &hints, &res) != 0) die("cannot resolve %s", opt.host);
    server_addr = *(struct sockaddr_in *)res->ai_addr;
    server_addr.sin_port = htons((uint16_t)opt.port);
    freeaddrinfo(res);
}

static void raise_file_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

static void format_ms(char *buf, size_t size, const struct histogram *h, double q)
{
    if (h->total == 0) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.3f", (q >= 1 ? (double)h->max_ns : hist_quantile_ns(h, q)) / NS_PER_MS);
}

struct totals {
    struct counters c;
    struct histogram ok, shed;
    uint64_t backlog_max, connections_opened, last_send_ns, max_issue_lag_ns;
};

static void merge_workers(struct totals *t, struct worker *workers)
{
    for (int i = 0; i < opt.threads; i++) {
        const struct worker *w = &workers[i];
        const uint64_t *from = (const uint64_t *)&w->c;
        uint64_t *into = (uint64_t *)&t->c;
        for (size_t k = 0; k < sizeof t->c / sizeof(uint64_t); k++) into[k] += from[k];
        hist_merge(&t->ok, &w->ok);
        hist_merge(&t->shed, &w->shed);
        t->backlog_max += w->backlog_max;
        t->connections_opened += w->connections_opened;
        if (w->last_counted_send_ns > t->last_send_ns) t->last_send_ns = w->last_counted_send_ns;
        if (w->max_issue_lag_ns > t->max_issue_lag_ns) t->max_issue_lag_ns = w->max_issue_lag_ns;
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    return user + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(const struct totals *t, double cpu_s)
{
    const struct counters *c = &t->c;
    char p50[32], p90[32], p99[32], p999[32], max[32], shed50[32], shed99[32];
    format_ms(p50, sizeof p50, &t->ok, 0.50);
    format_ms(p90, sizeof p90, &t->ok, 0.90);
    format_ms(p99, sizeof p99, &t->ok, 0.99);
    format_ms(p999, sizeof p999, &t->ok, 0.999);
    format_ms(max, sizeof max, &t->ok, 1);
    format_ms(shed50, sizeof shed50, &t->shed, 0.50);
    format_ms(shed99, sizeof shed99, &t->shed, 0.99);
    /* the achieved send rate: a generator that fell behind sends its window's arrivals late, over a longer span */
    double send_span_s = fmax(opt.duration_s, ((double)t->last_send_ns / NS_PER_S) - opt.warmup_s);
    fprintf(stderr,
            "openloop: %.0f req/s offered for %.1f s (after %.1f s warm-up), %d threads, %d connections max\n"
            "  scheduled %lu: sent %lu, suppressed %lu (backing off), client-dropped %lu\n"
            "  achieved_send_rate=%.1f req/s, max issue lag %.3f ms, backlog max %lu, connections opened %lu\n"
            "  completed %lu: 2xx %lu, 429 %lu, 503 %lu, other %lu; timeouts %lu, connect errors %lu, read errors %lu\n"
            "  2xx latency from scheduled time (ms): p50 %s p90 %s p99 %s p99.9 %s max %s; 429/503: p50 %s p99 %s\n"
            "  own CPU %.2f s (user+sys)\n",
            opt.rate, opt.duration_s, opt.warmup_s, opt.threads, opt.connections, c->scheduled, c->sent,
            c->suppressed, c->client_dropped, (double)c->sent / send_span_s, (double)t->max_issue_lag_ns / NS_PER_MS,
            t->backlog_max, t->connections_opened, c->completed, c->s2xx, c->s429, c->s503, c->sother, c->timeouts,
            c->connect_errors, c->read_errors, p50, p90, p99, p999, max, shed50, shed99, cpu_s);
    printf("OPENLOOP_RESULT duration_s=%g rate=%g scheduled=%lu sent=%lu suppressed=%lu completed=%lu s2xx=%lu "
           "s429=%lu s503=%lu sother=%lu timeouts=%lu connect_errors=%lu read_errors=%lu client_dropped=%lu "
           "backlog_max=%lu connections_opened=%lu ok_p50_ms=%s ok_p90_ms=%s ok_p99_ms=%s ok_p999_ms=%s "
           "ok_max_ms=%s shed_p50_ms=%s shed_p99_ms=%s ok_in_window=%lu shed_in_window=%lu cpu_s=%.2f\n",
           opt.duration_s, opt.rate, c->scheduled, c->sent, c->suppressed, c->completed, c->s2xx, c->s429, c->s503,
           c->sother, c->timeouts, c->connect_errors, c->read_errors, c->client_dropped, t->backlog_max,
           t->connections_opened, p50, p90, p99, p999, max, shed50, shed99, c->ok_in_window, c->shed_in_window, cpu_s);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    raise_file_limit();
    resolve_server();
    compile_path(opt.path);
    backoff_ns = xcalloc(opt.fleet, sizeof *backoff_ns);
    struct worker *workers = xcalloc((size_t)opt.threads, sizeof *workers);
    for (int i = 0; i < opt.threads; i++) init_worker(&workers[i], i);
    start_ns = mono_ns();
    for (int i = 0; i < opt.threads; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) die("%s", "pthread_create");
    for (int i = 0; i < opt.threads; i++) pthread_join(workers[i].thread, NULL);
    static struct totals totals;
    merge_workers(&totals, workers);
    report(&totals, cpu_seconds());
    return 0;
}
