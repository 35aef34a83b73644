/*
 * ESP8266 Arduino core (3.1.x): binds the C port (paku_ota/port_arduino.c,
 * http1.c) to the core's classes. Every decision is in that C code; this file
 * only forwards calls:
 *   transport  BearSSL::WiFiClientSecure (client certificate + key, fleet CA
 *              as the only trust anchor, small buffers with MFLN), created per
 *              call of the core and freed after it; or WiFiClient for http://
 *   flasher    Update (UpdaterClass): begin / write / end / end on abort
 *   store      RTC user memory after eboot's command (survives ESP.restart(),
 *              not a power cut)
 *   system     millis, delay (lets the WiFi stack run), ESP.random, ESP.restart
 * Signatures and SHA-256 use the core's BearSSL too (image_verify_bearssl.c).
 */
#if defined(ARDUINO_ARCH_ESP8266)

#include <new>

#include <Arduino.h>
#include <ESP8266WiFi.h>
#include <Updater.h>
#include <WiFiClientSecureBearSSL.h>

#include "PakuOta.h"

namespace {

/* MFLN sizes BearSSL can ask for; anything else is rounded down. */
uint16_t mflnSize(uint16_t want)
{
    return want >= 4096 ? 4096 : want >= 2048 ? 2048 : want >= 1024 ? 1024 : 512;
}

struct PakuOtaPlatform {
    /* The TLS client exists only while a call of the core has a connection
     * open: with it come BearSSL's contexts, its buffers and the core's 6 KiB
     * second stack for BearSSL (StackThunk), which an idle sketch gets back. */
    BearSSL::WiFiClientSecure *tls = nullptr;
    WiFiClient plain;
    Client *active = nullptr;
    BearSSL::X509List *ca = nullptr;
    BearSSL::X509List *chain = nullptr;
    BearSSL::PrivateKey *key = nullptr;
    unsigned issuerKeyType = BR_KEYTYPE_RSA;
    uint16_t fragment = 1024;
    bool mflnProbed = false;
    bool mflnOk = false;
    uint8_t rtcBlock = 0;
    paku_ota_arduino_port_t port;

    ~PakuOtaPlatform()
    {
        dropTls();
        delete ca;
        delete chain;
        delete key;
    }

    /* The PEMs parsed once (to DER in the heap). */
    void parseCredentials(const PakuOtaConfig &cfg)
    {
        if (cfg.caCertPem != nullptr) {
            ca = new (std::nothrow) BearSSL::X509List(cfg.caCertPem);
            /* the device certificate's issuer is the fleet CA */
            if (ca != nullptr && ca->getCount() > 0) {
                issuerKeyType = ca->getTrustAnchors()[0].pkey.key_type;
            }
        }
        if (cfg.clientCertPem != nullptr && cfg.clientKeyPem != nullptr) {
            chain = new (std::nothrow) BearSSL::X509List(cfg.clientCertPem);
            key = new (std::nothrow) BearSSL::PrivateKey(cfg.clientKeyPem);
        }
    }

    /* Buffers: the small ones when the server negotiates MFLN (probed once,
     * on a separate short connection), else the 16 KiB receive buffer TLS
     * otherwise requires. */
    bool newTls(const char *host, uint16_t port)
    {
        if (!mflnProbed) {
            mflnProbed = true;
            mflnOk = BearSSL::WiFiClientSecure::probeMaxFragmentLength(host, port, fragment);
        }
        tls = new (std::nothrow) BearSSL::WiFiClientSecure();
        if (tls == nullptr) {
            return false;
        }
        if (mflnOk) {
            tls->setBufferSizes(fragment, fragment);
        } else {
            tls->setBufferSizes(16384, 512);
        }
        if (ca != nullptr) {
            tls->setTrustAnchors(ca);
        }
        if (chain != nullptr && key != nullptr && key->isRSA()) {
            tls->setClientRSACert(chain, key);
        } else if (chain != nullptr && key != nullptr && key->isEC()) {
            tls->setClientECCert(chain, key, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, issuerKeyType);
        }
        return true;
    }

    void dropTls()
    {
        delete tls;
        tls = nullptr;
    }
};

PakuOtaPlatform *P(void *ctx)
{
    return static_cast<PakuOtaPlatform *>(ctx);
}

/* ---- transport ---- */

int netConnect(void *ctx, const char *host, uint16_t port, bool tls, uint32_t timeout_ms)
{
    PakuOtaPlatform *p = P(ctx);
    p->dropTls();
    if (tls) {
        if (!p->newTls(host, port)) {
            return -1;
        }
        p->active = p->tls;
    } else {
        p->active = &p->plain;
    }
    p->active->setTimeout(timeout_ms);
    return p->active->connect(host, port) == 1 ? 0 : -1;
}

bool netConnected(void *ctx)
{
    PakuOtaPlatform *p = P(ctx);
    return p->active != nullptr && p->active->connected();
}

size_t netWrite(void *ctx, const uint8_t *data, size_t n)
{
    PakuOtaPlatform *p = P(ctx);
    return p->active != nullptr ? p->active->write(data, n) : 0;
}

int netRead(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms)
{
    PakuOtaPlatform *p = P(ctx);
    uint32_t start = millis();
    while (p->active != nullptr) {
        int avail = p->active->available();
        if (avail > 0) {
            return p->active->read(data, n < (size_t)avail ? n : (size_t)avail);
        }
        if (!p->active->connected()) {
            return -1;
        }
        if (millis() - start >= timeout_ms) {
            return 0;
        }
        delay(1); /* let the WiFi stack run */
    }
    return -1;
}

void netStop(void *ctx)
{
    PakuOtaPlatform *p = P(ctx);
    if (p->active != nullptr) {
        p->active->stop();
    }
    p->active = nullptr;
    p->dropTls();
}

/* ---- flasher ---- */

paku_ota_err_t flashBegin(void *, uint32_t size)
{
    if (Update.isRunning()) {
        Update.end(false); /* drops the unfinished image */
    }
    if (Update.begin(size)) {
        return PAKU_OTA_OK;
    }
    return Update.getError() == UPDATE_ERROR_SPACE ? PAKU_OTA_ERR_IMAGE_TOO_LARGE
                                                   : PAKU_OTA_ERR_PARTITION;
}

paku_ota_err_t flashWrite(void *, const uint8_t *data, size_t len)
{
    return Update.write(const_cast<uint8_t *>(data), len) == len ? PAKU_OTA_OK
                                                                  : PAKU_OTA_ERR_PARTITION;
}

paku_ota_err_t flashFinish(void *)
{
    return Update.end(false) ? PAKU_OTA_OK : PAKU_OTA_ERR_PARTITION;
}

void flashAbort(void *)
{
    if (Update.isRunning()) {
        Update.end(false); /* not all bytes written: clears without arming */
    }
}

/* ---- store ---- */

bool rtcLoad(void *ctx, void *data, size_t len)
{
    return ESP.rtcUserMemoryRead(P(ctx)->rtcBlock, static_cast<uint32_t *>(data), len);
}

bool rtcSave(void *ctx, const void *data, size_t len)
{
    return ESP.rtcUserMemoryWrite(P(ctx)->rtcBlock,
                                  static_cast<uint32_t *>(const_cast<void *>(data)), len);
}

/* ---- system ---- */

uint32_t sysMillis(void *)
{
    return millis();
}

void sysDelay(void *, uint32_t ms)
{
    delay(ms);
}

uint32_t sysRandom(void *)
{
    return ESP.random();
}

void sysRestart(void *)
{
    ESP.restart();
}

} // namespace

const paku_ota_port_t *pakuOtaPlatformBegin(const PakuOtaConfig &cfg, paku_ota_config_t &core,
                                            void **platform)
{
    PakuOtaPlatform *p = new (std::nothrow) PakuOtaPlatform();
    *platform = p;
    if (p == nullptr) {
        return nullptr;
    }
    p->fragment = mflnSize(cfg.tlsFragment);
    /* never over eboot's command: Update.end() would overwrite the record
     * that says the new image waits for its check-in */
    p->rtcBlock = cfg.rtcBlock < PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK
                      ? PAKU_OTA_ESP8266_RTC_FIRST_FREE_BLOCK
                      : cfg.rtcBlock;
    p->parseCredentials(cfg);
    /* ESP8266 images carry no esp_app_desc_t; RAM is scarce: a 1 KiB buffer
     * and a 2 KiB ceiling on the check response (held while the TLS session
     * is open; a signed offer with an RSA-2048 signature is under 1 KiB). */
    core.verify_app_desc = false;
    core.buffer_size = 1024;
    core.max_response_size = 2048;
    const paku_ota_transport_t net = {p, netConnect, netConnected, netWrite, netRead, netStop};
    const paku_ota_flasher_t flash = {p, flashBegin, flashWrite, flashFinish, flashAbort};
    size_t rtcBytes = p->rtcBlock < PAKU_OTA_ESP8266_RTC_BLOCKS
                          ? 4u * (PAKU_OTA_ESP8266_RTC_BLOCKS - p->rtcBlock)
                          : 0u;
    const paku_ota_store_t store = {p, rtcBytes, rtcLoad, rtcSave};
    const paku_ota_system_t sys = {p, sysMillis, sysDelay, sysRandom, sysRestart};
    return paku_ota_port_arduino_init(&p->port, &net, &flash, &store, &sys);
}

void pakuOtaPlatformEnd(void *platform)
{
    delete static_cast<PakuOtaPlatform *>(platform);
}

uint32_t pakuOtaPlatformMillis()
{
    return millis();
}

#endif /* ARDUINO_ARCH_ESP8266 */
