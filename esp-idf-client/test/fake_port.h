/*
 * A scripted, in-memory port: a tiny "server" (check replies, a firmware
 * image served with Range support and injectable faults, a status endpoint
 * that records every report), a RAM partition, RAM state and a virtual clock.
 */
#ifndef PAKU_OTA_FAKE_PORT_H
#define PAKU_OTA_FAKE_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "paku_ota_port.h"

#define FAKE_MAX 64

typedef struct {
    int status;              /* 0 = transport failure */
    char body[4096];
    char retry_after[32];
} fake_reply_t;

typedef struct {
    char status[16];
    int progress;
    char version[PAKU_OTA_VERSION_MAX_LEN + 1];
    char error[PAKU_OTA_REASON_MAX_LEN + 32];
    bool has_error;
} fake_post_t;

typedef struct {
    paku_ota_port_t port;

    /* --- server: check --- */
    fake_reply_t replies[8]; /* consumed in order; the last repeats */
    int n_replies;
    int check_calls;
    char last_check_url[1400];

    /* --- server: download --- */
    const uint8_t *image;
    size_t image_len;
    char etag[96];            /* sent when non-empty */
    char xsha[96];            /* X-Checksum-SHA256, sent when non-empty */
    uint64_t drop_after[FAKE_MAX]; /* per request: cut after N body bytes (0: never) */
    int status_override[FAKE_MAX]; /* per request: answer this status instead */
    char retry_after[32];          /* sent with overridden 429/503 */
    bool ignore_range;             /* always answer 200 with the whole image */
    bool bad_content_range;        /* answer a Content-Range that starts elsewhere */
    size_t chunk;                  /* body callback size (default 4096) */
    int download_calls;
    bool had_range[FAKE_MAX];
    uint64_t range_start[FAKE_MAX];
    uint64_t range_end[FAKE_MAX];
    char url[FAKE_MAX][PAKU_OTA_LOCATION_MAX]; /* per request: the URL asked */
    char location[FAKE_MAX][PAKU_OTA_LOCATION_MAX]; /* per request: Location sent with status_override */

    /* --- server: status --- */
    fake_post_t posts[FAKE_MAX];
    int n_posts;

    /* --- network --- */
    bool unreachable; /* every request fails at the transport level */
    bool connected;   /* a kept-alive connection is open */
    int handshakes;   /* connections opened */
    bool busy;        /* a response is being delivered (nested requests fail) */
    int nested;       /* requests made while another one was in flight */

    /* --- partition --- */
    uint8_t *flash;
    size_t capacity;
    bool open;
    bool finished;
    uint64_t cursor;
    uint64_t image_size;
    int begin_calls;
    int resume_calls;
    int finish_calls;
    uint64_t read_bytes;
    uint64_t resume_align;     /* part_resume lowers the offset to a multiple (0: no) */
    bool fail_finish;
    bool fail_set_boot;
    uint64_t max_written;      /* highest write cursor seen */
    char boot_version[PAKU_OTA_VERSION_MAX_LEN + 1];

    /* --- persistent state --- */
    paku_ota_persist_t st;
    int saves;

    /* --- device --- */
    char running[PAKU_OTA_VERSION_MAX_LEN + 1];
    char project[33];              /* running project name ("" = none) */
    bool anti_rollback;            /* secure_version_ok is offered */
    uint32_t min_secure_version;   /* ... and accepts at least this */
    char previous[PAKU_OTA_VERSION_MAX_LEN + 1];
    bool pending_verify;
    int mark_valid_calls;
    int mark_invalid_calls;
    int restarts;

    /* --- time --- */
    uint64_t now_ms;
    uint64_t slept_ms;
    uint32_t sleeps[FAKE_MAX];
    int n_sleeps;
    uint32_t rnd;
} fake_t;

/** Set up a fake serving image (borrowed) with a partition of capacity. */
void fake_init(fake_t *f, const uint8_t *image, size_t image_len, size_t capacity,
               const char *running);
void fake_free(fake_t *f);
/** Queue a check reply. */
void fake_reply(fake_t *f, int status, const char *body, const char *retry_after);
/** A power cycle: open partition handles are lost, flash and state stay. */
void fake_power_cycle(fake_t *f);
/** Count of posted reports with this status. */
int fake_count_posts(const fake_t *f, const char *status);

#endif
