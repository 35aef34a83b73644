/*
 * The Arduino port for cores without ESP-IDF (the ESP8266 core): the port
 * table in plain C over four small interfaces the sketch-side C++ binds to
 * the core's classes (BearSSL::WiFiClientSecure, Update, RTC memory, millis).
 *
 * Why C with interfaces, not C++ on the Arduino classes directly: every
 * decision (HTTP/1.1 framing and keep-alive, Range bookkeeping, what a resume
 * may do with an Updater, the state record) is then compiled and tested on
 * the host through fakes (test/test_port_arduino.c) and compiled for the
 * ESP8266 with its cross compiler against the real core headers; the C++ left
 * (src/PakuOta*.cpp of the library) only forwards calls.
 *
 * arduino-esp32 does not use this: it has ESP-IDF underneath and uses the
 * ESP-IDF port (esp_http_client, esp_ota_ops, NVS, bootloader rollback).
 */
#ifndef PAKU_OTA_PORT_ARDUINO_H
#define PAKU_OTA_PORT_ARDUINO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paku_ota_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A byte stream to a server (WiFiClientSecure, WiFiClient). */
typedef struct {
    void *ctx;
    /** Open a connection; tls selects the secure client. 0 on success. */
    int (*connect)(void *ctx, const char *host, uint16_t port, bool tls, uint32_t timeout_ms);
    /** Whether the connection is still open (peer has not closed it). */
    bool (*connected)(void *ctx);
    /** Write all n bytes; the number written (< n on failure). */
    size_t (*write)(void *ctx, const uint8_t *data, size_t n);
    /** Read up to n bytes, waiting at most timeout_ms for the first one:
     *  > 0 bytes read, 0 on timeout, < 0 when the peer closed or it failed. */
    int (*read)(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms);
    /** Close the connection (safe when none is open). */
    void (*stop)(void *ctx);
} paku_ota_transport_t;

/** The image writer (the core's Updater). It only appends: no seek, no read. */
typedef struct {
    void *ctx;
    /** Start an image of size bytes (Update.begin). PAKU_OTA_ERR_IMAGE_TOO_LARGE
     *  when it cannot fit, PAKU_OTA_ERR_PARTITION on other failures. */
    paku_ota_err_t (*begin)(void *ctx, uint32_t size);
    /** Append (Update.write); PAKU_OTA_OK when all len bytes were taken. */
    paku_ota_err_t (*write)(void *ctx, const uint8_t *data, size_t len);
    /** Close and validate; on the ESP8266 this also arms the copy of the new
     *  image at the next boot (Update.end). */
    paku_ota_err_t (*finish)(void *ctx);
    /** Drop an unfinished image (safe when none is open). */
    void (*abort)(void *ctx);
} paku_ota_flasher_t;

/** The ESP8266's RTC user memory: 512 bytes in 128 blocks of 4. Its first
 *  128 bytes (32 blocks) hold eboot's command, which Update.end() writes to
 *  arm the copy of a new image (cores/esp8266/eboot_command.h; Esp.cpp says
 *  so of rtcUserMemoryWrite): the state record must start after them. */
#define PAKU_OTA_ESP8266_RTC_BLOCKS 128u
#define PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK 32u

/** A small store that survives a restart (RTC user memory on the ESP8266). */
typedef struct {
    void *ctx;
    /** Capacity in bytes (a multiple of 4). */
    size_t size;
    bool (*load)(void *ctx, void *data, size_t len);
    bool (*save)(void *ctx, const void *data, size_t len);
} paku_ota_store_t;

/** Time, randomness and restart. */
typedef struct {
    void *ctx;
    uint32_t (*millis)(void *ctx);
    /** Wait, letting the core's network stack run (delay()). */
    void (*delay)(void *ctx, uint32_t ms);
    uint32_t (*random)(void *ctx);
    /** Restart into the armed image; does not return on a device. */
    void (*restart)(void *ctx);
} paku_ota_system_t;

/** What the port keeps about one server connection. */
#define PAKU_OTA_ARDUINO_HOST_MAX 128
#define PAKU_OTA_ARDUINO_LINE_MAX 192
/** One header line: room for "Location: " and a whole signed download link. */
#define PAKU_OTA_ARDUINO_HEADER_LINE_MAX (PAKU_OTA_LOCATION_MAX + 16)

typedef struct {
    /* bound interfaces */
    paku_ota_transport_t net;
    paku_ota_flasher_t flash;
    paku_ota_store_t store;
    paku_ota_system_t sys;

    /* the kept-alive connection */
    bool conn_open;
    bool conn_tls;
    uint16_t conn_port;
    char conn_host[PAKU_OTA_ARDUINO_HOST_MAX];
    /* response reading: a small look-ahead buffer, one header line */
    uint8_t in[PAKU_OTA_ARDUINO_LINE_MAX];
    size_t in_pos;
    size_t in_len;
    char line[PAKU_OTA_ARDUINO_HEADER_LINE_MAX];

    /* the image being written */
    bool img_open;
    uint32_t img_size;
    uint32_t img_written;

    /* millis() extended to 64 bits */
    uint32_t last_millis;
    uint64_t millis_high;

    int handshakes; /* connections opened (for tests and logs) */
    paku_ota_port_t port;
} paku_ota_arduino_port_t;

/**
 * Fill the port table of p from the four interfaces (copied into p).
 * @return &p->port, to pass to paku_ota_create; it lives as long as p.
 */
const paku_ota_port_t *paku_ota_port_arduino_init(paku_ota_arduino_port_t *p,
                                                  const paku_ota_transport_t *net,
                                                  const paku_ota_flasher_t *flash,
                                                  const paku_ota_store_t *store,
                                                  const paku_ota_system_t *sys);

/** The port table's http and http_close (http1.c). */
paku_ota_err_t paku_ota_arduino_http(void *ctx, const paku_ota_http_request_t *req,
                                     paku_ota_http_response_t *resp);
void paku_ota_arduino_http_close(void *ctx);

/** Bytes of the state record in the store (a multiple of 4). */
size_t paku_ota_port_arduino_state_size(void);

/* ---- The non-blocking loop (PakuOta::loop), for both Arduino cores ---------- */

/** Schedule of PakuOta::loop(): settle the boot first, then check when due. */
typedef struct {
    paku_ota_handle_t h;
    bool boot_settled;
    bool auto_restart;
    uint32_t last_ms;   /* millis() when the last call started */
    uint32_t wait_ms;   /* time from last_ms to the next call */
    paku_ota_result_t result;
} paku_ota_loop_t;

void paku_ota_loop_init(paku_ota_loop_t *l, paku_ota_handle_t h, bool auto_restart);
/**
 * One loop() step at time now_ms (millis(), wrapping is fine). Returns at once
 * unless a check is due; when one is (the first step after boot confirms the
 * boot), runs it — that call blocks for as long as the check and any download
 * take — stores its result in l->result and returns true. After an update with
 * auto_restart it restarts the device (paku_ota_restart).
 */
bool paku_ota_loop_step(paku_ota_loop_t *l, uint32_t now_ms);
/** Milliseconds until the next check is due at now_ms (0: due). */
uint32_t paku_ota_loop_due_in(const paku_ota_loop_t *l, uint32_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* PAKU_OTA_PORT_ARDUINO_H */
