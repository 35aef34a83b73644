/*
 * arduino-esp32 (3.x): ESP-IDF is underneath, so the library uses the
 * component's ESP-IDF port unchanged (paku_ota/port_esp_idf.c):
 * esp_http_client with the device certificate, key and fleet CA (mutual TLS,
 * one kept-alive connection per call), esp_ota_ops into the next OTA slot with
 * Range resume (and after a restart where the ESP-IDF under the core has
 * esp_ota_resume: arduino-esp32 3.3 is ESP-IDF 5.5), the state in its own NVS
 * namespace, and the bootloader's app rollback, which arduino-esp32 builds
 * with (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y in its lib-builder's
 * defconfig.common).
 */
#if defined(ARDUINO_ARCH_ESP32)

#include <Arduino.h>

#include "PakuOta.h"

/* initArduino() marks a new image valid before setup() unless this returns
 * true (a weak function of the core, esp32-hal-misc.c). The image must stay
 * PENDING_VERIFY until it has checked in with the server: the library
 * confirms it then (paku_ota_confirm_boot, in the first PakuOta::loop()), and
 * the bootloader rolls back an image that resets before that. Defined here,
 * next to the port, so that every build that uses PakuOta links it. A sketch
 * must not define verifyRollbackLater() itself. */
extern "C" bool verifyRollbackLater()
{
    return true;
}

const paku_ota_port_t *pakuOtaPlatformBegin(const PakuOtaConfig &cfg, paku_ota_config_t &core,
                                            void **platform)
{
    (void)cfg;
    *platform = nullptr;
    /* The sketch's version is the running version: arduino-esp32's
     * esp_app_desc_t carries the core's version, not the sketch's, so the
     * image-description check (version and project name inside the image)
     * cannot be used and stays off. */
    core.verify_app_desc = false;
    return paku_ota_port_esp_idf();
}

void pakuOtaPlatformEnd(void *platform)
{
    (void)platform;
}

uint32_t pakuOtaPlatformMillis()
{
    return millis();
}

#endif /* ARDUINO_ARCH_ESP32 */
