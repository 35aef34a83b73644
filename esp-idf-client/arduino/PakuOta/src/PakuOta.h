/*
 * PakuOta — firmware updates from a Paku OTA server for ESP32 (arduino-esp32
 * 3.x) and ESP8266 (Arduino core 3.1.x) sketches.
 *
 *   PakuOtaConfig cfg;            // server, device id/model, version, PEMs
 *   PakuOta ota(cfg);
 *   void setup() { ...WiFi...; ota.begin(); }
 *   void loop()  { ota.loop(); ... }
 *
 * loop() returns at once until a check is due (the server's
 * next_check_seconds, or the back-off after a failure); a due check — and a
 * download if one is offered — runs inside that loop() call. The first call
 * after boot settles a fresh update: the new image checks in, which confirms
 * it (ESP32: cancels the bootloader rollback; ESP8266: no rollback exists,
 * see the README).
 *
 * The portable C core does the work (src/paku_ota/, generated from the
 * esp-idf-client component; do not edit there).
 */
#ifndef PAKU_OTA_ARDUINO_H
#define PAKU_OTA_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

#include "paku_ota/paku_ota.h"
#include "paku_ota/paku_ota_port_arduino.h"

/** What the sketch tells the library. Strings are borrowed: keep them alive
 *  (string literals or globals) for as long as the PakuOta object. */
struct PakuOtaConfig {
    /** "https://ota.example.com:8443" (mutual TLS). */
    const char *serverUrl = nullptr;
    /** Device id; the CN of the device certificate. */
    const char *deviceId = nullptr;
    /** The model releases are uploaded for, e.g. "esp8266". */
    const char *deviceModel = nullptr;
    /** The running sketch's version, SemVer ("1.4.0"). Required: neither
     *  core puts the sketch's version into the image in a readable place. */
    const char *firmwareVersion = nullptr;

    /** Fleet CA (PEM) the server certificate must chain to. */
    const char *caCertPem = nullptr;
    /** Device certificate and private key (PEM) for mutual TLS. */
    const char *clientCertPem = nullptr;
    const char *clientKeyPem = nullptr;
    /** Firmware signing public key (PEM, RSA-2048+ or EC P-256). With it
     *  every release must be signed; without it signatures are not checked. */
    const char *signingKeyPem = nullptr;

    /** Accept a lower version the server marks as a rollback. */
    bool allowDowngrade = false;
    /** Accept an http:// server (no TLS at all). */
    bool allowPlainHttp = false;
    /** Restart right after an update was installed (else call
     *  PakuOta::restart() yourself; the update runs after the restart). */
    bool autoRestart = true;
    /** Seconds between checks when the server says nothing. */
    uint32_t checkIntervalSeconds = 3600;
    /** Download in Range requests of at most this many bytes (progress
     *  reports go out between them); 0: one request. */
    uint32_t rangeRequestSize = 65536;
    /** The one download buffer (0: 4096 on ESP32, 1024 on ESP8266). */
    uint32_t bufferSize = 0;

    /** ESP8266: TLS record size asked of the server with MFLN (512, 1024,
     *  2048 or 4096). When the server does not negotiate it, BearSSL needs
     *  the full 16 KiB receive buffer (see the README's RAM budget). */
    uint16_t tlsFragment = 1024;
    /** ESP8266: first 4-byte block of RTC user memory for the state record
     *  (paku_ota_port_arduino_state_size() bytes, 360). Blocks 0-31 hold the
     *  bootloader's command that arms an update, so 32..38; a lower value is
     *  raised to 32. */
    uint8_t rtcBlock = PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK;
};

class PakuOta {
public:
    /** Progress of a download, percent, in steps of 10. */
    using ProgressCallback = void (*)(const char *version, int percent);
    /** Each status report (downloading, installing, success, failed). */
    using StatusCallback = void (*)(paku_ota_status_t status, const char *version, int progress,
                                    const char *reason);
    /** The result of each check (outcome, error, reason, next check). */
    using ResultCallback = void (*)(const paku_ota_result_t &result);

    explicit PakuOta(const PakuOtaConfig &config);
    ~PakuOta();
    PakuOta(const PakuOta &) = delete;
    PakuOta &operator=(const PakuOta &) = delete;

    /** Set up the client (no network traffic). false when the configuration
     *  is unusable or memory is short; lastError() says why. */
    bool begin();
    /** Call from loop(): does nothing until a check is due. */
    void loop();
    /** Make the next loop() check at once. */
    void checkNow();
    /** Restart into an installed update (when autoRestart is off). */
    void restart();

    void onProgress(ProgressCallback cb) { progressCb_ = cb; }
    void onStatus(StatusCallback cb) { statusCb_ = cb; }
    void onResult(ResultCallback cb) { resultCb_ = cb; }

    /** Seconds until loop() checks again. */
    uint32_t secondsUntilNextCheck() const;
    const paku_ota_result_t &lastResult() const { return loop_.result; }
    paku_ota_err_t lastError() const { return lastError_; }

private:
    static void statusThunk(paku_ota_status_t status, const char *version, int progress,
                            const char *reason, void *user);

    PakuOtaConfig cfg_;
    paku_ota_config_t core_;
    paku_ota_loop_t loop_;
    paku_ota_handle_t handle_ = nullptr;
    void *platform_ = nullptr; /* the platform's port state (PakuOtaPlatform) */
    paku_ota_err_t lastError_ = PAKU_OTA_OK;
    ProgressCallback progressCb_ = nullptr;
    StatusCallback statusCb_ = nullptr;
    ResultCallback resultCb_ = nullptr;
};

/* Implemented once per core (PakuOtaEsp32.cpp, PakuOtaEsp8266.cpp): the port
 * for this core and its defaults in the core configuration. */
const paku_ota_port_t *pakuOtaPlatformBegin(const PakuOtaConfig &cfg, paku_ota_config_t &core,
                                            void **platform);
void pakuOtaPlatformEnd(void *platform);
uint32_t pakuOtaPlatformMillis();

#endif /* PAKU_OTA_ARDUINO_H */
