/*
 * The PakuOta class: the sketch's configuration into the core's, the port of
 * the core this sketch is built for, and loop() on the core's schedule
 * (paku_ota_loop_*, host-tested in test/test_port_arduino.c).
 */
#include "PakuOta.h"

#include <string.h>

PakuOta::PakuOta(const PakuOtaConfig &config) : cfg_(config)
{
    memset(&core_, 0, sizeof(core_));
    paku_ota_loop_init(&loop_, nullptr, config.autoRestart);
}

PakuOta::~PakuOta()
{
    paku_ota_destroy(handle_);
    pakuOtaPlatformEnd(platform_);
}

bool PakuOta::begin()
{
    if (handle_ != nullptr) {
        return true;
    }
    if (!paku_ota_version_is_valid(cfg_.firmwareVersion)) {
        /* neither core gives the sketch's version any other way (PakuOta.h) */
        lastError_ = PAKU_OTA_ERR_INVALID_VERSION;
        return false;
    }
    paku_ota_config_default(&core_);
    core_.server_url = cfg_.serverUrl;
    core_.device_id = cfg_.deviceId;
    core_.device_model = cfg_.deviceModel;
    core_.running_version = cfg_.firmwareVersion;
    core_.ca_cert_pem = cfg_.caCertPem;
    core_.client_cert_pem = cfg_.clientCertPem;
    core_.client_key_pem = cfg_.clientKeyPem;
    core_.signing_pubkey_pem = cfg_.signingKeyPem;
    core_.allow_downgrade = cfg_.allowDowngrade;
    core_.allow_plain_http = cfg_.allowPlainHttp;
    core_.check_interval_s = cfg_.checkIntervalSeconds;
    core_.range_request_size = cfg_.rangeRequestSize;
    core_.status_cb = statusThunk;
    core_.status_cb_user = this;
    const paku_ota_port_t *port = pakuOtaPlatformBegin(cfg_, core_, &platform_);
    if (port == nullptr) {
        lastError_ = PAKU_OTA_ERR_NO_MEM;
        return false;
    }
    if (cfg_.bufferSize != 0) {
        core_.buffer_size = cfg_.bufferSize;
    }
    lastError_ = paku_ota_create(&core_, port, &handle_);
    if (lastError_ != PAKU_OTA_OK) {
        handle_ = nullptr;
        return false;
    }
    paku_ota_loop_init(&loop_, handle_, cfg_.autoRestart);
    return true;
}

void PakuOta::loop()
{
    if (handle_ == nullptr || !paku_ota_loop_step(&loop_, pakuOtaPlatformMillis())) {
        return;
    }
    lastError_ = loop_.result.err;
    if (resultCb_ != nullptr) {
        resultCb_(loop_.result);
    }
}

void PakuOta::checkNow()
{
    loop_.wait_ms = 0;
}

void PakuOta::restart()
{
    paku_ota_restart(handle_);
}

uint32_t PakuOta::secondsUntilNextCheck() const
{
    return paku_ota_loop_due_in(&loop_, pakuOtaPlatformMillis()) / 1000u;
}

void PakuOta::statusThunk(paku_ota_status_t status, const char *version, int progress,
                          const char *reason, void *user)
{
    PakuOta *self = static_cast<PakuOta *>(user);
    if (status == PAKU_OTA_STATUS_DOWNLOADING && self->progressCb_ != nullptr) {
        self->progressCb_(version, progress);
    }
    if (self->statusCb_ != nullptr) {
        self->statusCb_(status, version, progress, reason);
    }
}
