/*
 * Configuration defaults. On ESP-IDF they come from Kconfig (sdkconfig.h);
 * elsewhere from the same built-in values Kconfig defaults to.
 */
#include <string.h>

#include "paku_ota_internal.h"

#if defined(ESP_PLATFORM)
#include "sdkconfig.h"
#endif

#ifdef CONFIG_PAKU_OTA_SERVER_URL
#define DEFAULT_SERVER_URL CONFIG_PAKU_OTA_SERVER_URL
#else
#define DEFAULT_SERVER_URL NULL
#endif

#ifdef CONFIG_PAKU_OTA_DEVICE_MODEL
#define DEFAULT_DEVICE_MODEL CONFIG_PAKU_OTA_DEVICE_MODEL
#else
#define DEFAULT_DEVICE_MODEL NULL
#endif

#ifdef CONFIG_PAKU_OTA_CHECK_INTERVAL_S
#define DEFAULT_CHECK_INTERVAL_S CONFIG_PAKU_OTA_CHECK_INTERVAL_S
#else
#define DEFAULT_CHECK_INTERVAL_S 3600
#endif

#ifdef CONFIG_PAKU_OTA_ALLOW_DOWNGRADE
#define DEFAULT_ALLOW_DOWNGRADE true
#else
#define DEFAULT_ALLOW_DOWNGRADE false
#endif

#ifdef CONFIG_PAKU_OTA_ALLOW_PLAIN_HTTP
#define DEFAULT_ALLOW_PLAIN_HTTP true
#else
#define DEFAULT_ALLOW_PLAIN_HTTP false
#endif

#ifdef CONFIG_PAKU_OTA_USE_CERT_BUNDLE
#define DEFAULT_USE_CERT_BUNDLE true
#else
#define DEFAULT_USE_CERT_BUNDLE false
#endif

/* On a device every image carries an esp_app_desc_t; the host simulator's
 * images do not. */
#if defined(CONFIG_PAKU_OTA_VERIFY_APP_DESC)
#define DEFAULT_VERIFY_APP_DESC true
#else
#define DEFAULT_VERIFY_APP_DESC false
#endif

#ifdef CONFIG_PAKU_OTA_RANGE_REQUEST_SIZE
#define DEFAULT_RANGE_REQUEST_SIZE CONFIG_PAKU_OTA_RANGE_REQUEST_SIZE
#else
#define DEFAULT_RANGE_REQUEST_SIZE 0
#endif

#ifdef CONFIG_PAKU_OTA_BUFFER_SIZE
#define DEFAULT_BUFFER_SIZE CONFIG_PAKU_OTA_BUFFER_SIZE
#else
#define DEFAULT_BUFFER_SIZE 4096
#endif

#ifdef CONFIG_PAKU_OTA_CONFIRM_ATTEMPTS
#define DEFAULT_CONFIRM_ATTEMPTS CONFIG_PAKU_OTA_CONFIRM_ATTEMPTS
#else
#define DEFAULT_CONFIRM_ATTEMPTS 5
#endif

/* PEMs embedded at build time from the files named in Kconfig (or the
 * PAKU_OTA_*_PEM_FILE CMake cache variables on the host); see CMakeLists. */
#ifdef PAKU_OTA_HAVE_EMBEDDED_FLEET_CA
extern const char paku_ota_embedded_fleet_ca_pem[];
#define DEFAULT_CA_PEM paku_ota_embedded_fleet_ca_pem
#else
#define DEFAULT_CA_PEM NULL
#endif

#ifdef PAKU_OTA_HAVE_EMBEDDED_SIGNING_PUBKEY
extern const char paku_ota_embedded_signing_pubkey_pem[];
#define DEFAULT_PUBKEY_PEM paku_ota_embedded_signing_pubkey_pem
#else
#define DEFAULT_PUBKEY_PEM NULL
#endif

void paku_ota_config_default(paku_ota_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->server_url = DEFAULT_SERVER_URL;
    cfg->device_model = DEFAULT_DEVICE_MODEL;
    cfg->ca_cert_pem = DEFAULT_CA_PEM;
    cfg->signing_pubkey_pem = DEFAULT_PUBKEY_PEM;
    cfg->allow_downgrade = DEFAULT_ALLOW_DOWNGRADE;
    cfg->allow_plain_http = DEFAULT_ALLOW_PLAIN_HTTP;
    cfg->use_cert_bundle = DEFAULT_USE_CERT_BUNDLE;
    cfg->verify_app_desc = DEFAULT_VERIFY_APP_DESC;
    cfg->check_interval_s = DEFAULT_CHECK_INTERVAL_S;
    cfg->range_request_size = DEFAULT_RANGE_REQUEST_SIZE;
    cfg->buffer_size = DEFAULT_BUFFER_SIZE;
    cfg->max_response_size = 16 * 1024;
    cfg->max_attempts = 4;
    cfg->retry_base_ms = 1000;
    cfg->retry_max_ms = 60 * 1000;
    cfg->max_inline_retry_after_s = 120;
    cfg->confirm_attempts = DEFAULT_CONFIRM_ATTEMPTS;
    cfg->state_save_interval = 64 * 1024;
    cfg->http_timeout_ms = 30 * 1000;
}
